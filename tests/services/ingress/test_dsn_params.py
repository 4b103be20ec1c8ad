"""RFC 3461 parameters read at ingress with their case, and refused when malformed."""

from __future__ import annotations

import pytest
from mss.core.dsn import decode_xtext, encode_xtext
from mss.ingress.dsn import DsnError, MailDsn, RcptDsn, parse_mail, parse_rcpt


def test_mail_parameters_are_taken_out_and_decoded() -> None:
    rest, found = parse_mail("FROM:<a@b.fr> SIZE=100 ret=hdrs ENVID=Id+2B42")
    assert (rest, found) == ("FROM:<a@b.fr> SIZE=100", MailDsn("HDRS", "Id+42"))
    assert parse_mail("FROM:<a@b.fr>") == ("FROM:<a@b.fr>", MailDsn())


def test_rcpt_parameters_keep_the_original_recipients_case() -> None:
    rest, found = parse_rcpt("TO:<jean@chu.fr> NOTIFY=success,failure ORCPT=rfc822;Jean.Martin+2Bcr@CHU.fr")
    assert (rest, found) == ("TO:<jean@chu.fr>", RcptDsn("SUCCESS,FAILURE", "rfc822;Jean.Martin+cr@CHU.fr"))


@pytest.mark.parametrize(
    "arg",
    [
        "TO:<a@b.fr> NOTIFY=SOMETIMES",
        "TO:<a@b.fr> NOTIFY=NEVER,SUCCESS",
        "TO:<a@b.fr> NOTIFY=SUCCESS,SUCCESS",
        "TO:<a@b.fr> ORCPT=nosemicolon",
        "TO:<a@b.fr> ORCPT=rfc822;bad+zz",
        "TO:<a@b.fr> NOTIFY=SUCCESS NOTIFY=FAILURE",
    ],
)
def test_malformed_rcpt_parameters_are_refused(arg: str) -> None:
    with pytest.raises(DsnError, match=r"^501 5\.5\.4"):
        parse_rcpt(arg)


@pytest.mark.parametrize(
    "arg", ["FROM:<a@b.fr> RET=ALL", f"FROM:<a@b.fr> ENVID={'x' * 101}", "FROM:<a@b.fr> ENVID=a=b"]
)
def test_malformed_mail_parameters_are_refused(arg: str) -> None:
    with pytest.raises(DsnError, match=r"^501 5\.5\.4"):
        parse_mail(arg)


def test_xtext() -> None:
    assert decode_xtext("a+2Bb+3D") == "a+b="
    assert decode_xtext(encode_xtext("Dr É. Müller+1=2")) == "Dr É. Müller+1=2"  # UTF-8 both ways
    with pytest.raises(ValueError, match="not xtext"):
        decode_xtext("caf\u00e9")
    with pytest.raises(DsnError):
        parse_mail("FROM:<a@b.fr> ENVID=+C3")  # half a UTF-8 character
