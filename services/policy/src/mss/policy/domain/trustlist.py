"""The ANS allowed-domain list (R-TRUST-3): parse and query.

Parsing uses defusedxml, so entity expansion and external entities are refused.
"""

from __future__ import annotations

import hashlib
import unicodedata
from dataclasses import dataclass, field
from datetime import UTC, datetime
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from mss.core.errors import DataError

NAMESPACE = "https://listeblanche.mssante.fr/schema"
_NS = {"lb": NAMESPACE}


def canonical_domain(name: str) -> str:
    """Lowercase, NFC-normalised, Unicode form of a domain (punycode labels decoded)."""
    name = unicodedata.normalize("NFC", name.strip().rstrip(".").lower())
    try:
        return name.encode("ascii").decode("idna") if "xn--" in name else name
    except UnicodeError:
        return name


@dataclass(frozen=True)
class TrustList:
    """One loaded version of the list: domain → operator certificate DNs."""

    version: str
    generated_at: str
    domains: dict[str, tuple[str, ...]] = field(default_factory=dict)
    warnings: tuple[str, ...] = ()

    def allows(self, domain: str) -> bool:
        """True when ``domain`` belongs to the trust space."""
        return canonical_domain(domain) in self.domains

    def generated(self) -> datetime | None:
        """``DateDeGeneration`` as an aware UTC datetime, or None when absent or unreadable."""
        try:
            moment = datetime.fromisoformat(self.generated_at)
        except ValueError:
            return None
        return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _text(element: Element, tag: str) -> str:
    child = element.find(f"lb:{tag}", _NS)
    return (child.text or "").strip() if child is not None else ""


_ROOT_END = b"</ListeBlancheMSSante>"
_LIST_END = b"</ListeDomaines>"


def _parse_xml(data: bytes) -> tuple[Element, tuple[str, ...]]:
    """The root element, and the repairs made.

    The list ANS publishes has been seen without its root end tag (its checksum matching): that one
    truncation, after a complete ``</ListeDomaines>``, is repaired and reported; any other damage
    is refused, since a list cut inside ``ListeDomaines`` would silently lose operators.
    """
    try:
        return ElementTree.fromstring(data, forbid_dtd=True), ()
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        if data.rstrip().endswith(_LIST_END) and _ROOT_END not in data:
            try:
                root = ElementTree.fromstring(data.rstrip() + _ROOT_END, forbid_dtd=True)
            except (ElementTree.ParseError, DefusedXmlException, ValueError):
                pass
            else:
                return root, ("missing </ListeBlancheMSSante> end tag after a complete </ListeDomaines>",)
        raise DataError(f"allowed-domain list is not acceptable XML: {exc}") from exc


def parse_trust_list(data: bytes) -> TrustList:
    """Parse the XML bytes; raise DataError when malformed, hostile or wrongly namespaced."""
    root, repairs = _parse_xml(data)
    if root.tag != f"{{{NAMESPACE}}}ListeBlancheMSSante":
        raise DataError(
            f"allowed-domain list root is {root.tag}, expected ListeBlancheMSSante in {NAMESPACE}"
        )
    generated = _text(root, "DateDeGeneration")
    domains: dict[str, list[str]] = {}
    for entry in root.iterfind("lb:ListeDomaines/lb:Domaine", _NS):
        name = _text(entry, "Nom")
        if not name:
            raise DataError("allowed-domain list has a Domaine without Nom")
        dns = domains.setdefault(canonical_domain(name), [])
        dn = _text(entry, "DNCertificatOperateur")
        if dn and dn not in dns:
            dns.append(dn)
    if not domains:
        raise DataError("allowed-domain list has no Domaine")
    digest = hashlib.sha256(data).hexdigest()[:16]
    return TrustList(
        version=f"{generated or 'undated'}/{digest}",
        generated_at=generated,
        domains={name: tuple(dns) for name, dns in domains.items()},
        warnings=repairs,
    )
