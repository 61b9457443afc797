"""Django admin registrations of the tracking app."""

# -- API tokens: registered in tracking/api/admin.py (the API's part of the admin) ----------
from tracking.api import admin as api_admin  # noqa: F401
# -- end of API tokens --------------------------------------------------------------------------
