# Maestro's default authorization policy (docs/operations.md, "Policies").
#
# Maestro asks `data.maestro.authz.decision` before it starts a run, runs a playbook, and
# executes each workflow step. The answer is allowed when `deny` is empty; each member of
# `deny` is {"rule": <name>, "message": <why>}, and the audit row and ledger entry of the
# denial name the first one as `maestro.authz.<rule>@<bundle revision>`.
#
# This file reproduces the role rules Maestro had before policies (DESIGN §3): through the
# API, starting a run or running a playbook needs the operator role (admin includes it);
# the admin site is gated by Django's model permissions; the scheduler's loops (system) and
# the engine's own steps (job) are not role-checked. Operators add rules by adding more
# `deny contains ... if` rules to this package in files of their own (MAESTRO_POLICY_DIR):
# a rule can only take permission away, never grant what these rules refuse.
package maestro.authz

import rego.v1

rank := {"viewer": 1, "operator": 2, "admin": 3}

# The role a caller through the API needs for each operation.
required_role := {"run.start": "operator", "playbook.run": "operator"}

deny contains {"rule": "roles", "message": sprintf("Requires the %s role", [needed])} if {
	input.subject.via == "api"
	needed := required_role[input.operation]
	object.get(rank, input.subject.role, 0) < rank[needed]
}

# The bundle's revision: Maestro sets it to the content hash of the files it loaded (the
# `maestro_policy_bundle` command writes it into a bundle for an OPA server).
default version := "unversioned"

version := data.maestro.bundle.revision

decision := {"deny": deny, "version": version}
