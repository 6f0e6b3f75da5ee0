"""The autonomic loops of DESIGN §7.2 (MAPE-K): the scheduler leader dispatches each active
loop's due tick to a worker; a tick monitors real signals (agents' runs, denied audit rows),
analyses them against the loop's config, plans a decision and executes it through the control
services, then records the decision (history, audit, ledger, broadcast) and starts the
playbooks its action or alerts trigger."""
