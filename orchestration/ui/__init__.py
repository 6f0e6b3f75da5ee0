"""The operators' pages at ``/`` (DESIGN §7.4): Django templates in the top-level ``templates/``
over the same selectors and services as the API, behind a session login with the admin's users
or single sign-on."""
