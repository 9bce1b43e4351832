"""A template sees only its own document: no files outside its root, no network, no code."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from ispbill.documents import data as D
from ispbill.documents.pool import worker_state
from ispbill.documents.render import (
    DocumentRenderError,
    DocumentTemplateError,
    document_pdf_render,
    document_template_check,
    document_template_validate,
)
from tests.documents.conftest import pdf_text

HEAD = '#let d = json("data.json")\n'


@pytest.fixture
def secret_beside_root() -> Path:
    """A file in the directory that holds the per-document roots: one '..' away."""
    path = Path(tempfile.gettempdir()) / "ispbill-secret-for-test.txt"
    path.write_text("TOP-SECRET-CONTENT")
    yield path
    path.unlink()


ESCAPES = [
    '#read("/etc/passwd")',
    '#read("../etc/passwd")',
    '#read("../../../../../../etc/passwd")',
    '#read("../ispbill-secret-for-test.txt")',
    '#json("/etc/hostname")',
    '#json("../ispbill-secret-for-test.txt")',
    '#image("/etc/passwd")',
    '#image("../ispbill-secret-for-test.txt")',
    '#include "/etc/passwd"',
    '#include "../ispbill-secret-for-test.txt"',
    '#import "../ispbill-secret-for-test.txt": *',
    '#read("/proc/self/environ")',
]


@pytest.mark.parametrize("escape", ESCAPES)
def test_files_outside_the_root_cannot_be_read(escape: str, secret_beside_root: Path) -> None:
    with pytest.raises(DocumentTemplateError) as caught:
        pdf = document_pdf_render(data=D.sample_invoice(), template_source=HEAD + escape)
        # Never reached; if it were, the content must not be in the PDF.
        assert "TOP-SECRET" not in pdf_text(pdf)
    message = str(caught.value)
    assert "TOP-SECRET" not in message
    assert "root:" not in message


NETWORK = [
    '#import "@preview/tablex:0.0.8": *',
    '#include "@preview/tablex:0.0.8"',
    '#import "@local/house:0.1.0": *',
    '#let p = "@pre" + "view/tablex:0.0.8"\n#import p: *',
    '#import ("@pre" + "view/tablex:0.0.8"): *',
    '#eval("import \\"@preview/tablex:0.0.8\\"")',
    '#let f = dictionary(std).at("ev" + "al")\n#f("1 + 1")',
    '#let f = std.eval\n#f("1")',
    '#let p = plugin("x.wasm")',
]


@pytest.mark.parametrize("source", NETWORK)
def test_packages_eval_and_plugins_are_refused_before_compiling(source: str) -> None:
    with pytest.raises(DocumentTemplateError) as caught:
        document_pdf_render(data=D.sample_invoice(), template_source=HEAD + source)
    # Refused by the check, not by a failed download: Typst never ran.
    assert "download" not in str(caught.value)
    assert caught.value.line is not None and caught.value.line >= 2


def test_relative_imports_of_the_issuers_own_parts_are_allowed() -> None:
    parts = b"#let greet(name) = [Hello #name]"
    source = HEAD + '#import "parts.typ": greet\n#greet(d.recipient.name)'
    pdf = document_pdf_render(
        data=D.sample_invoice(), template_source=source, assets={"parts.typ": parts}
    )
    assert "Hello Anna Schmidt" in pdf_text(pdf)


def test_an_imported_part_obeys_the_same_rules() -> None:
    with pytest.raises(DocumentTemplateError, match="eval"):
        document_pdf_render(
            data=D.sample_invoice(),
            template_source=HEAD + '#import "parts.typ": *',
            assets={"parts.typ": b'#let x = eval("1")'},
        )


@pytest.mark.parametrize(
    "name",
    [
        "../logo.png",
        "/etc/logo.png",
        "a/b.png",
        ".hidden",
        "main.typ",
        "data.json",
        "qr.png",
        "factur-x.xml",
        "",
    ],
)
def test_asset_names_cannot_leave_or_replace_the_root_files(name: str) -> None:
    with pytest.raises(DocumentRenderError, match="asset name"):
        document_pdf_render(data=D.sample_invoice(), assets={name: b"x"})


def test_the_root_is_private_and_keeps_no_document_data_after_a_render() -> None:
    data = D.sample_invoice()
    document_pdf_render(data=data, facturx=True)
    state = worker_state()
    assert state["mode"] == 0o700
    assert set(state["names"]) == {"main.typ"}


def test_a_file_of_the_previous_document_is_gone_for_the_next() -> None:
    document_pdf_render(data=D.sample_invoice(), facturx=True)  # has qr.png and factur-x.xml
    statement = D.sample_customer_statement()
    for reader, name in (("image", "qr.png"), ("xml", "factur-x.xml")):
        with pytest.raises(DocumentTemplateError, match="not found"):
            document_pdf_render(data=statement, template_source=HEAD + f'#{reader}("{name}")')


def test_one_document_cannot_see_another_documents_data() -> None:
    # The compiler is reused between renders; a file of the previous root must be gone.
    first = D.sample_invoice()
    first["document"]["number"] = "FIRST-DOC-0001"
    document_pdf_render(data=first)
    second = D.sample_invoice()
    source = HEAD + "#d.document.number"
    text = pdf_text(document_pdf_render(data=second, template_source=source))
    assert "FIRST-DOC" not in text


def test_broken_syntax_is_reported_with_its_line() -> None:
    source = HEAD + "= Title\n#let x = (1, 2\nmore text\n"
    with pytest.raises(DocumentTemplateError) as caught:
        document_template_validate(source)
    assert caught.value.line is not None
    assert caught.value.line >= 3
    assert "line" in str(caught.value)


def test_runtime_error_is_reported_with_its_line_and_message() -> None:
    source = HEAD + "ok\n\n#(d.totals.due + 1)\n"
    with pytest.raises(DocumentTemplateError) as caught:
        document_template_validate(source)
    assert caught.value.line == 4
    assert "cannot add" in caught.value.message


def test_unknown_field_is_reported() -> None:
    with pytest.raises(DocumentTemplateError) as caught:
        document_template_validate(HEAD + "#d.document.no_such_field")
    assert caught.value.line == 2
    assert "no_such_field" in caught.value.message


def test_the_check_names_the_line_of_a_forbidden_word() -> None:
    with pytest.raises(DocumentTemplateError) as caught:
        document_template_check('a\nb\n  #eval("1")')
    assert (caught.value.line, caught.value.column) == (3, 4)
