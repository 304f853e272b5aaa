"""What every result carries so it can be traced: the package version and the spec's hash."""

from __future__ import annotations

from typing import Protocol

from . import __version__

__all__ = ["provenance"]


class _HasSpecHash(Protocol):
    sha256: str


def provenance(study: _HasSpecHash | None) -> dict[str, str | None]:
    """The package version and the spec's SHA-256, for JSON results.

    Parameters
    ----------
    study : Study or None
        The study the result was made from (``None`` for results made from no spec,
        such as the seed-paper reproduction: ``spec_sha256`` is then ``None``).

    Returns
    -------
    dict
        ``{"cenns_bayes_version": ..., "spec_sha256": ...}``, the keys that the NetCDF
        attributes and ``summary.json`` also use.
    """
    return {
        "cenns_bayes_version": __version__,
        "spec_sha256": None if study is None else study.sha256,
    }
