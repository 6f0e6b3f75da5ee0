# No maestro.set_agent step outside business hours: Monday to Friday, 09:00 to 17:00 UTC
# (input.clock is the decision's time in UTC, from the engine's clock).
package maestro.authz

import rego.v1

working_days := {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"}

deny contains {"rule": "business_hours", "message": msg} if {
	input.operation == "step.execute"
	input.step.action == "maestro.set_agent"
	not within_business_hours
	msg := sprintf("maestro.set_agent runs Monday to Friday, 09:00-17:00 UTC only (now %s %02d:%02d UTC)",
		[input.clock.weekday, input.clock.hour, input.clock.minute])
}

within_business_hours if {
	input.clock.weekday in working_days
	input.clock.hour >= 9
	input.clock.hour < 17
}
