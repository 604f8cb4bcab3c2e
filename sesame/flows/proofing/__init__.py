"""The identity enrolment wizard (seed 001): one browser's view of the account's proofing case.

The durable record is the case (``sesame.domain.identity.ProofingCase``): it lasts days, crosses
devices and waits for people. A flow of this kind is made per browser from the case's status
(``FlowRunner.start(..., state=case.status)``), so its states are the case's statuses; a step
calls ``sesame.services.proofing`` and the flow follows wherever the case went. Same files as
every flow: flow.py, states.py, steps.py, states.mmd (and forms.py, the form parsers).
"""
