"""Intake: the one service every channel calls (``service.receive``), the spool that
keeps webhooks through a database outage (``spool``), Twilio signature checks
(``signature``) and the helpers every webhook shares (``webhooks``)."""
