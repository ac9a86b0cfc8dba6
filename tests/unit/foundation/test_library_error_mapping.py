"""Every exception class livekit-api and authlib export is translated into one of our error
families at its boundary (``livekit.client.livekit_error``, ``identity.login.
token_exchange_error``), like httpx's own mapping test: a library upgrade that adds an
exception class fails here until it is mapped, instead of leaking out as a 500."""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import warnings
from types import ModuleType

import pytest
from authlib.common.errors import AuthlibBaseError
from livekit import api as livekit_api

from control_plane.errors import ERROR_FAMILIES, ControlPlaneError
from control_plane.identity.errors import IdentityProviderUnavailable, LoginFailed
from control_plane.identity.login import token_exchange_error
from control_plane.livekit.client import LIVEKIT_ERRORS, livekit_error
from control_plane.livekit.errors import LiveKitNotFound, LiveKitUnavailable


def _exported_exceptions(package: ModuleType, prefix: str) -> list[type[BaseException]]:
    """Every exception class defined in the package's modules (warnings excluded)."""
    found: dict[str, type[BaseException]] = {}
    modules = [package]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # authlib.jose announces its deprecation on import
        for info in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
            try:
                modules.append(importlib.import_module(info.name))
            except ImportError:  # an optional integration whose framework is not installed
                continue
    for module in modules:
        for value in vars(module).values():
            if (
                inspect.isclass(value)
                and issubclass(value, BaseException)
                and not issubclass(value, Warning)
                and value.__module__.startswith(prefix)
            ):
                found[f"{value.__module__}.{value.__qualname__}"] = value
    return [found[name] for name in sorted(found)]


def _family(error: ControlPlaneError) -> type[ControlPlaneError]:
    families = [family for family in ERROR_FAMILIES if isinstance(error, family)]
    assert len(families) == 1, (type(error), families)
    return families[0]


LIVEKIT_EXCEPTIONS = _exported_exceptions(importlib.import_module("livekit.api"), "livekit.")
AUTHLIB_EXCEPTIONS = _exported_exceptions(importlib.import_module("authlib"), "authlib")


def test_the_libraries_export_the_exceptions_we_expect_to_see() -> None:
    assert livekit_api.TwirpError in LIVEKIT_EXCEPTIONS
    assert len(AUTHLIB_EXCEPTIONS) > 20  # the walk reached authlib's oauth2 and jose errors


@pytest.mark.parametrize("cls", LIVEKIT_EXCEPTIONS, ids=lambda c: c.__qualname__)
def test_every_livekit_api_exception_is_caught_and_mapped(cls: type[BaseException]) -> None:
    assert issubclass(cls, LIVEKIT_ERRORS)
    if issubclass(cls, livekit_api.TwirpError):
        missing = cls("not_found", "room secret-room-name not found", status=404)
        failed = cls("internal", "secret detail", status=500)
        assert isinstance(livekit_error(missing), LiveKitNotFound)
        assert isinstance(livekit_error(failed), LiveKitUnavailable)
        for error in (livekit_error(missing), livekit_error(failed)):
            assert "secret" not in str(error)
            assert _family(error) in ERROR_FAMILIES
    else:
        assert _family(livekit_error(cls.__new__(cls))) in ERROR_FAMILIES


@pytest.mark.parametrize(
    "exc",
    [TimeoutError(), OSError("connection refused"), ConnectionResetError()],
    ids=lambda e: type(e).__name__,
)
def test_transport_failures_mean_livekit_is_unavailable(exc: BaseException) -> None:
    assert isinstance(exc, LIVEKIT_ERRORS)
    assert isinstance(livekit_error(exc), LiveKitUnavailable)


@pytest.mark.parametrize("cls", AUTHLIB_EXCEPTIONS, ids=lambda c: f"{c.__module__}.{c.__name__}")
def test_every_authlib_exception_is_a_refused_login(cls: type[BaseException]) -> None:
    """authlib's errors all derive from AuthlibBaseError, so each is the provider's (or
    the response's) refusal: 401 with a reason that quotes only a known OAuth code."""
    assert issubclass(cls, AuthlibBaseError)
    exc = cls.__new__(cls)
    assert isinstance(exc, AuthlibBaseError)
    exc.error = "secret-free-text"
    error = token_exchange_error(exc)
    assert isinstance(error, LoginFailed)
    assert _family(error).status == 401
    assert error.reason == "token exchange refused: other"


def test_a_known_oauth_code_is_kept_and_anything_else_is_unavailable() -> None:
    refused = AuthlibBaseError(error="invalid_grant")
    error = token_exchange_error(refused)
    assert isinstance(error, LoginFailed)
    assert error.reason == "token exchange refused: invalid_grant"
    assert isinstance(token_exchange_error(RuntimeError("socket")), IdentityProviderUnavailable)
