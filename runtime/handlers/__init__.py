"""The mesh's Lambda handlers: one module per function, each exposing ``handler(event, context)``.

Modules: ``orchestrator`` (HTTP API and direct invoke: the cross-account handoff), ``forget`` (forget jobs),
``lifecycle`` (SQS: job steps, deferred turn events), ``summarizer`` (SQS), ``tenants`` (operator API) and
``retention`` (schedule). Private helpers shared by them start with an underscore.
Nothing is imported here, so a function loads only the handler it runs.
"""
