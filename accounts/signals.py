from django.dispatch import Signal

# Sent by `manage.py load_demo_data` after the demo users exist, so that each
# app (trading funds reserves, vouchers issues demo vouchers, ...) adds its own
# demo data without accounts importing them. Receivers must be idempotent.
# Arguments: customer, reviewer, stdout (a callable printing one line).
demo_data_requested = Signal()
