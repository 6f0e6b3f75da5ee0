# Which hosts the http.request step action may call, per tenant. The lists are data
# (a .json file beside this one), e.g.:
#   {"maestro": {"http_hosts": {"default": ["hooks.example.com"], "payments": ["ci.payments.example"]}}}
# A tenant with no list may call no host. (MAESTRO_HTTP_ACTION_ALLOWED_HOSTS still applies on top.)
package maestro.authz

import rego.v1

deny contains {"rule": "http_hosts", "message": sprintf("tenant %s may not call %v", [input.tenant, input.step.host])} if {
	input.operation == "step.execute"
	input.step.action == "http.request"
	not input.step.host in object.get(data.maestro.http_hosts, input.tenant, [])
}
