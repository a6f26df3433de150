"""The HTTP edge: response and body helpers, the JSON API endpoints (public, producer, sponsor,
payments), the OpenAPI document and the HTML pages. Endpoints parse, authorize, call a service and
answer; they never touch a store adapter."""
