from dtexchange.errors import Conflict, DomainError


class AccountFrozen(Conflict):
    code = "account_frozen"
    message = "Your account is frozen: trades, withdrawals and payouts are stopped."


class PaymentMethodPaused(Conflict):
    code = "payment_method_unavailable"
    message = "This payment method is paused."


class NotAnAdmin(DomainError):
    code = "permission_denied"
    message = "Only an admin can throw or lift a stop switch."
    status = 403


class SwitchNotActive(Conflict):
    code = "switch_not_active"
    message = "This switch is not on (already lifted)."


class LiftNotRequested(Conflict):
    code = "switch_lift_not_requested"
    message = "Nobody asked to lift this switch yet: ask for the lift first."


class SamePersonRefused(DomainError):
    code = "four_eyes_same_person"
    message = "Another admin must confirm the lift you asked for."
    status = 403
