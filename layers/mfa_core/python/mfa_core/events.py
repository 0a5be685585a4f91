"""The audit trail's event names, and which of them the user also hears about out of band."""

ATTACHED = "attached"  # with pending=True: a QR code was shown
CONFIRMED = "confirmed"
DELETED = "deleted"
VERIFIED = "verified"
FAILED = "failed"
LOCKED = "locked"
UNLOCKED = "unlocked"
RESET = "reset"
RECOVERY_USED = "recovery_used"
RECOVERY_RENEWED = "recovery_renewed"
PHONE_ATTACHED = "phone_attached"
PHONE_DELETED = "phone_deleted"
DEVICE_TRUSTED = "device_trusted"
DEVICE_REVOKED = "device_revoked"
APP_PASSWORD_CREATED = "app_password_created"
APP_PASSWORD_REVOKED = "app_password_revoked"
APP_PASSWORD_USED = "app_password_used"
POLICY_CHANGED = "policy_changed"
ACCESS_PASS_ISSUED = "access_pass_issued"
ACCESS_PASS_USED = "access_pass_used"
ACCESS_PASS_REVOKED = "access_pass_revoked"

# Told to the user through SNS (the mail system turns it into an email), besides the audit trail:
# whatever changes how the account can be entered, so a stranger's change does not go unseen.
NOTIFIED = frozenset(
    {
        CONFIRMED,
        DELETED,
        LOCKED,
        RESET,
        APP_PASSWORD_CREATED,
        RECOVERY_USED,
        PHONE_ATTACHED,
        PHONE_DELETED,
        ACCESS_PASS_ISSUED,
        ACCESS_PASS_USED,
    }
)
# The tenant's day counters (GET /v1/admin/report) each event adds one to: logons verified, failed codes,
# locks, factors attached. The write that records the event counts it.
COUNTED = {VERIFIED: "verified", FAILED: "failed", LOCKED: "locked", CONFIRMED: "attached", PHONE_ATTACHED: "attached"}
DAY_COUNTS = ("verified", "failed", "locked", "attached")
TOTALS = ("users", "authenticator", "phone", "any", "app_passwords")
