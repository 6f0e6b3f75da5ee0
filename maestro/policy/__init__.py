"""Authorization of workflow actions by Rego policies (docs/operations.md, "Policies").

``bundle`` reads the policy files and names their revision, ``engine`` evaluates a decision
in process (regorus) or asks an OPA server, and ``decisions`` builds the input of each
decision point and turns a denial into a refusal the write path records."""
