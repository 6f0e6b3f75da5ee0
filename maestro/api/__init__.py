"""The API toolkit every app's HTTP interface is built with: the base view, paging, filters,
strict fields, OpenAPI helpers, the error handler and the role permission."""
