"""Every answer under ``/api/`` is JSON, also where the API's own handlers never ran: a path
the API does not have (Django's 404) and a method a path does not take (405)."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse, JsonResponse

_ERRORS = {
    404: ("No such API path: see /api/v1/docs for the operations.", "not_found"),
    405: ("This path does not take the method {method}; it takes {allowed}.", "method_not_allowed"),
}


class ApiJsonErrorsMiddleware:
    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        if (
            request.path.startswith("/api/")
            and response.status_code in _ERRORS
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            detail, code = _ERRORS[response.status_code]
            detail = detail.format(method=request.method, allowed=response.get("Allow", ""))
            answer = JsonResponse(
                {"detail": detail, "code": code, "fields": {}}, status=response.status_code
            )
            if response.has_header("Allow"):
                answer["Allow"] = response["Allow"]
            return answer
        return response
