{{- define "maestro.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "maestro.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else if contains (include "maestro.name" .) .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name (include "maestro.name" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{- define "maestro.serviceAccountName" -}}
{{- default (include "maestro.fullname" .) .Values.serviceAccount.name -}}
{{- end -}}

{{- define "maestro.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" }}
app.kubernetes.io/name: {{ include "maestro.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: maestro
{{- end -}}

{{/* Selector labels of one component: include "maestro.selectorLabels" (list $ "web") */}}
{{- define "maestro.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "maestro.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end -}}

{{- define "maestro.image" -}}
{{- if .Values.image.digest -}}
{{ .Values.image.repository }}@{{ .Values.image.digest }}
{{- else -}}
{{ .Values.image.repository }}:{{ .Values.image.tag | default .Chart.AppVersion }}
{{- end -}}
{{- end -}}

{{/* A required key of the existing Secret as an env var. */}}
{{- define "maestro.secretEnv" -}}
{{- $root := index . 0 -}}
- name: {{ index . 1 }}
  valueFrom:
    secretKeyRef:
      name: {{ required "existingSecret.name is required" $root.Values.existingSecret.name }}
      key: {{ index . 2 }}
{{- end -}}

{{/* The environment of every process (docs/operations.md, "Environment variables").
     Call with (list $ "web"): the component names its database connections. */}}
{{- define "maestro.env" -}}
{{- $root := index . 0 -}}
{{- $component := index . 1 -}}
{{- $keys := $root.Values.existingSecret.keys -}}
- name: MAESTRO_ENV
  value: production
{{ include "maestro.secretEnv" (list $root "MAESTRO_DATABASE_URL" (required "existingSecret.keys.databaseUrl is required" $keys.databaseUrl)) }}
{{ include "maestro.secretEnv" (list $root "MAESTRO_REDIS_URL" (required "existingSecret.keys.redisUrl is required" $keys.redisUrl)) }}
{{ include "maestro.secretEnv" (list $root "MAESTRO_SECRET_KEY" (required "existingSecret.keys.secretKey is required" $keys.secretKey)) }}
{{ include "maestro.secretEnv" (list $root "MAESTRO_LEDGER_SIGNING_KEY" (required "existingSecret.keys.ledgerSigningKey is required" $keys.ledgerSigningKey)) }}
{{- if $keys.metricsToken }}
{{ include "maestro.secretEnv" (list $root "MAESTRO_METRICS_TOKEN" $keys.metricsToken) }}
{{- end }}
{{- if $keys.ssoClientSecret }}
{{ include "maestro.secretEnv" (list $root "MAESTRO_SSO_CLIENT_SECRET" $keys.ssoClientSecret) }}
{{- end }}
{{- if $keys.archiveAccessKeyId }}
{{ include "maestro.secretEnv" (list $root "AWS_ACCESS_KEY_ID" $keys.archiveAccessKeyId) }}
{{ include "maestro.secretEnv" (list $root "AWS_SECRET_ACCESS_KEY" (required "existingSecret.keys.archiveSecretAccessKey is required with archiveAccessKeyId" $keys.archiveSecretAccessKey)) }}
{{- end }}
- name: MAESTRO_ARCHIVE_URL
  value: {{ required "archive.url is required: s3://bucket/prefix of the ledger's WORM archive (the image's filesystem is read-only)" $root.Values.archive.url | quote }}
{{- if $root.Values.archive.s3EndpointUrl }}
- name: MAESTRO_ARCHIVE_S3_ENDPOINT_URL
  value: {{ $root.Values.archive.s3EndpointUrl | quote }}
{{- end }}
- name: MAESTRO_ARCHIVE_RETENTION_DAYS
  value: {{ $root.Values.archive.retentionDays | quote }}
- name: MAESTRO_ALLOWED_HOSTS
  value: {{ join "," $root.Values.config.allowedHosts | quote }}
- name: MAESTRO_FORWARDED_ALLOW_IPS
  value: {{ $root.Values.config.forwardedAllowIps | quote }}
{{- if $root.Values.config.publicUrl }}
- name: MAESTRO_PUBLIC_URL
  value: {{ $root.Values.config.publicUrl | quote }}
{{- end }}
- name: MAESTRO_LOG_LEVEL
  value: {{ $root.Values.config.logLevel | quote }}
- name: MAESTRO_DB_APPLICATION_NAME
  value: {{ printf "maestro-%s" $component | quote }}
{{- if $root.Values.config.otlpEndpoint }}
- name: OTEL_EXPORTER_OTLP_ENDPOINT
  value: {{ $root.Values.config.otlpEndpoint | quote }}
- name: OTEL_SERVICE_NAME
  value: {{ printf "maestro-%s" $component | quote }}
{{- end }}
{{- if $root.Values.config.opaUrl }}
- name: MAESTRO_OPA_URL
  value: {{ $root.Values.config.opaUrl | quote }}
{{- end }}
{{- if $root.Values.config.policyConfigMap }}
- name: MAESTRO_POLICY_DIR
  value: /etc/maestro/policies
{{- end }}
{{- range $name, $value := $root.Values.config.extraEnv }}
- name: {{ $name }}
  value: {{ $value | toString | quote }}
{{- end }}
{{- end -}}

{{- define "maestro.podSpecCommon" -}}
automountServiceAccountToken: false
securityContext:
  {{- toYaml .Values.podSecurityContext | nindent 2 }}
{{- with .Values.imagePullSecrets }}
imagePullSecrets:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- with .Values.affinity }}
affinity:
  {{- toYaml . | nindent 2 }}
{{- end }}
volumes:
  - name: tmp
    emptyDir:
      sizeLimit: {{ .Values.tmpVolume.sizeLimit }}
{{- if .Values.config.policyConfigMap }}
  - name: policies
    configMap:
      name: {{ .Values.config.policyConfigMap }}
{{- end }}
{{- end -}}

{{- define "maestro.containerCommon" -}}
image: {{ include "maestro.image" . }}
imagePullPolicy: {{ .Values.image.pullPolicy }}
securityContext:
  {{- toYaml .Values.securityContext | nindent 2 }}
volumeMounts:
  - name: tmp
    mountPath: /tmp
{{- if .Values.config.policyConfigMap }}
  - name: policies
    mountPath: /etc/maestro/policies
    readOnly: true
{{- end }}
{{- end -}}

{{- define "maestro.workerComponents" -}}
{{- $out := list -}}
{{- range .Values.workers }}{{ $out = append $out (printf "worker-%s" .name) }}{{ end -}}
{{- toJson $out -}}
{{- end -}}

{{/* The egress rules every pod gets: one per target with peers, then the extra ones. */}}
{{- define "maestro.egressRules" -}}
{{- $rules := list -}}
{{- range $target := list "dns" "postgresql" "redis" "otlpCollector" "archive" "opa" -}}
{{- $t := index $.Values.networkPolicy.egress $target -}}
{{- if $t.to -}}
{{- $rules = append $rules (dict "to" $t.to "ports" $t.ports) -}}
{{- end -}}
{{- end -}}
{{- $rules = concat $rules $.Values.networkPolicy.extraEgress -}}
{{- toYaml $rules -}}
{{- end -}}
