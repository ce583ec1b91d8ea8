"""One botocore session per container, and tenant clients that cost no new botocore client per credential.

Every client the runtime makes comes from :func:`shared_session`, so service models, endpoint rules and the
event handlers are loaded once per container. Tenant-scoped calls go through one *context-bound* client per
(service, region, config) from that session: its signer resolves credentials per call from a ContextVar
(:func:`context_credentials`), set by :func:`bound` for the duration of one call. Outside :func:`bound` such a
client has no credentials at all (botocore raises ``NoCredentialsError``), so it can never fall back to the
container's own role.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

__all__ = ["bound", "context_client", "context_credentials", "current_access_key", "shared_session"]

_session: Any = None
_session_lock = threading.Lock()
_clients: dict[tuple[str, str, Any], Any] = {}
_clients_lock = threading.Lock()
#: The frozen credentials of the call in progress (``botocore.credentials.ReadOnlyCredentials``) or None.
_CURRENT: ContextVar[Any] = ContextVar("mesh_scoped_credentials", default=None)


def shared_session() -> Any:
    """The container's one ``boto3.session.Session`` (one botocore session; regional STS endpoints)."""
    global _session
    if _session is None:
        with _session_lock:
            if _session is None:
                import boto3.session
                import botocore.session

                core = botocore.session.Session()
                core.set_config_variable("sts_regional_endpoints", "regional")
                _session = boto3.session.Session(botocore_session=core)
    return _session


def _credentials_type() -> type:
    from botocore.credentials import Credentials
    from botocore.exceptions import NoCredentialsError

    class _ContextCredentials(Credentials):
        """Credentials whose value is the calling context's: what :func:`bound` set, else none at all."""

        def __init__(self) -> None:  # no static keys: nothing to normalize or refresh
            self.method = "mesh-context"
            self.account_id = None

        def get_frozen_credentials(self) -> Any:
            frozen = _CURRENT.get()
            if frozen is None:
                raise NoCredentialsError()
            return frozen

        @property
        def access_key(self) -> str:
            return str(self.get_frozen_credentials().access_key)

        @property
        def secret_key(self) -> str:
            return str(self.get_frozen_credentials().secret_key)

        @property
        def token(self) -> str | None:
            return self.get_frozen_credentials().token

    return _ContextCredentials


_credentials: Any = None


def context_credentials() -> Any:
    """The one credentials object every context-bound client signs with (botocore imported on first use)."""
    global _credentials
    if _credentials is None:
        _credentials = _credentials_type()()  # a benign race: any instance behaves the same
    return _credentials


def context_client(service_name: str, region: str, config: Any = None) -> Any:
    """The shared client of (service, region, config) whose credentials are the calling context's.

    Configs with the same options share one client (a budget tier is one config).
    """
    key = (service_name, region, _config_key(config))
    found = _clients.get(key)
    if found is not None:
        return found
    with _clients_lock:
        found = _clients.get(key)
        if found is not None:
            return found
        # Placeholder keys only get the client built; its signer's credentials are replaced before any call.
        client = shared_session().client(
            service_name, region_name=region, config=config,
            aws_access_key_id="unbound", aws_secret_access_key="unbound",  # noqa: S106 - not a secret
        )
        signer = client._request_signer
        if not hasattr(signer, "_credentials"):  # pragma: no cover - a botocore that moved the attribute
            raise RuntimeError("botocore's RequestSigner no longer keeps _credentials; context clients need it")
        signer._credentials = context_credentials()
        _clients[key] = client
        return client


def _config_key(config: Any) -> Any:
    if config is None:
        return None
    options = getattr(config, "_user_provided_options", None)
    if not isinstance(options, dict):  # pragma: no cover - a botocore without it: one client per object
        return ("id", id(config))
    return tuple(sorted((name, repr(value)) for name, value in options.items()))


@contextmanager
def bound(access_key: str, secret_key: str, token: str | None) -> Iterator[None]:
    """Calls made inside sign with these credentials (this thread or task only)."""
    from botocore.credentials import ReadOnlyCredentials

    reset = _CURRENT.set(ReadOnlyCredentials(access_key, secret_key, token))
    try:
        yield
    finally:
        _CURRENT.reset(reset)


def current_access_key() -> str | None:
    """The access key id bound to the calling context, if any."""
    frozen = _CURRENT.get()
    return None if frozen is None else str(frozen.access_key)


def reset() -> None:
    """Forget the shared session and clients, as a new container starts (tests switching the default role)."""
    global _session
    with _clients_lock:
        _clients.clear()
    with _session_lock:
        _session = None
