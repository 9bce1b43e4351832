"""Oversize and malformed request bodies answer the documented JSON error, not Django's
plain 400 page."""

from __future__ import annotations

import pytest
from django.test import Client

from ispbill.payments.models import Payment
from tests.api.conftest import assert_error

pytestmark = pytest.mark.django_db


def test_an_oversize_body_is_a_json_413(seed):
    body = '{"customer_id": 1, "note": "' + "x" * (10 * 1024 * 1024) + '"}'
    response = seed.accountant.client.post(
        "/api/v1/payments", body, content_type="application/json"
    )
    assert response.status_code == 413
    error = response.json()
    assert set(error) == {"detail", "code", "fields"}
    assert error["code"] == "payload_too_large" and "bytes" in error["detail"]
    assert not Payment.objects.exists()


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ("{not json", "application/json"),
        ("\xff\xfe", "application/json"),
        ("customer_id=1", "application/x-www-form-urlencoded"),
        ("[1, 2", "application/json"),
    ],
)
def test_a_malformed_body_is_a_json_400(seed, body, content_type):
    answer_body = seed.accountant.client.post("/api/v1/payments", body, content_type=content_type)
    assert answer_body.status_code == 400
    assert answer_body.json()["code"] == "bad_request"
    assert not Payment.objects.exists()


def test_a_json_body_of_the_wrong_shape_is_a_422(seed):
    assert_error(seed.accountant.post("/payments", [1, 2, 3]), 422)


def _body_schemas() -> set[type]:
    """Every schema a request body is read with, nested ones included."""
    import typing

    import pydantic

    from ispbill.api.main import api

    found: set[type] = set()

    def walk(t: object) -> None:
        if isinstance(t, type) and issubclass(t, pydantic.BaseModel):
            if t in found:
                return
            found.add(t)
            for f in t.model_fields.values():
                walk(f.annotation)
        for arg in typing.get_args(t):
            walk(arg)

    for _prefix, router in api._routers:
        for path_view in router.path_operations.values():
            for operation in path_view.operations:
                for model in operation.models:
                    if model.__ninja_param_source__ in ("body", "form"):
                        for f in model.model_fields.values():
                            walk(f.annotation)
    return found


def test_every_body_schema_refuses_unknown_fields():
    from ninja.files import UploadedFile

    schemas = _body_schemas() - {UploadedFile}
    assert len(schemas) > 40
    lax = sorted(s.__name__ for s in schemas if s.model_config.get("extra") != "forbid")
    assert lax == []


def test_a_misspelt_field_is_a_422_naming_it_and_changes_nothing(seed):
    before = seed.alice.name
    error = assert_error(
        seed.admin.patch(f"/customers/{seed.alice.pk}", {"nmae": "Typo"}), 422, "validation_error"
    )
    assert list(error["fields"]) == ["nmae"] and "Unknown field" in error["fields"]["nmae"]
    assert "nmae" in error["detail"]
    seed.alice.refresh_from_db()
    assert seed.alice.name == before
    # Nested bodies too: a line of a credit note, a payment of an import.
    error = assert_error(
        seed.accountant.post(
            "/payments/import", {"payments": [{"customer_id": 1, "amout": "1.00"}]}
        ),
        422,
    )
    assert any(k.endswith("amout") for k in error["fields"]), error


def test_an_unknown_api_path_and_a_wrong_method_answer_json(seed):
    error = assert_error(seed.admin.get("/no-such-thing"), 404, "not_found")
    assert "/api/v1/docs" in error["detail"]
    assert_error(seed.admin.get("/api/v1/customers/1/no-such-part"), 404, "not_found")
    answer = seed.admin.call("DELETE", "/customers")
    error = assert_error(answer, 405, "method_not_allowed")
    assert "DELETE" in error["detail"] and "GET" in answer.headers["Allow"]
    # Without a token too: the path does not exist before it is refused.
    response = Client().get("/api/v1/nothing-here")
    assert response.status_code == 404 and response.json()["code"] == "not_found"
