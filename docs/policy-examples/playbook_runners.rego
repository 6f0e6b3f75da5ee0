# Who may run a playbook: data names, per playbook id, the people (usernames) who may run it
# through the API or the admin, e.g.:
#   {"maestro": {"playbook_runners": {"pb-restart-pods": ["olivia", "ada"]}}}
# A playbook not named there is left to the other rules; the loops (system) and the
# maestro.run_playbook step (job) are not people and are not restricted by this rule.
package maestro.authz

import rego.v1

deny contains {"rule": "playbook_runners", "message": msg} if {
	input.operation == "playbook.run"
	input.subject.via in {"api", "admin"}
	runners := data.maestro.playbook_runners[input.playbook]
	not input.subject.name in runners
	msg := sprintf("%s may not run playbook %s (runners: %s)", [input.subject.name, input.playbook, concat(", ", runners)])
}
