"""The table's layout (PK / SK):

  T#<tenant>            POLICY                  the tenant's policy (JSON) and its version
  T#<tenant>            DATAKEY                 the tenant's KMS data key, encrypted by KMS
  T#<tenant>            SMS#<day>               SMS sent in the tenant on UTC day number <day> (TTL)
  T#<tenant>            SMS#<day>#<number>      SMS sent to <number> that day, by any user of the tenant (TTL)
  T#<tenant>#STATS#<n>  DAY#<day>               shard <n> of the tenant's counts of UTC day <day> (TTL: 91 days)
  T#<tenant>#STATS#<n>  TOTAL                   shard <n> of the tenant's running totals (users, factors)
  T#<tenant>#U#<user>   STATE#MFA               authenticator, recovery-code hashes, secure phone,
                                                trusted-device generation, app-password count
  T#<tenant>#U#<user>   STATE#LOCKOUT           failed-code counter (TTL: a day after the last failure)
  T#<tenant>#U#<user>   STATE#ENROLLMENT        the pending enrollment (TTL)
  T#<tenant>#U#<user>   STATE#SMS               the pending SMS code and the SMS send limits (TTL)
  T#<tenant>#U#<user>   STATE#DEVICE#<slot>     a trusted device in one of 10 slots: its token's hash (TTL)
  T#<tenant>#U#<user>   STATE#PASS              the temporary access pass an admin issued: its hash (TTL)
  T#<tenant>#U#<user>   APPPW#<keyed hash>      a third-party client security password
  T#<tenant>#U#<user>   THROTTLE#APPPW          app-password check failures in the current minute (TTL)
  T#<tenant>#U#<user>   EVENT#<ms>#<rand>       the audit trail (TTL: a year)

The index UserList (list_pk / list_sk, sparse) lists the tenant's users without a scan: every MFA item
under list_pk <tenant> (a user is listed by the first write of the item), every lockout item with a
failure under list_pk <tenant>#failing; list_sk is the user, so both list in user order.

A user's counts go to one of STATS_SHARDS shards (by a hash of the user): no counter is a hot item, and one
user's writes always add to the same shard. The report reads each shard's days and totals in one Query.

Everything a code check or a logon decision needs is under the user's STATE# prefix: one consistent
Query. TTL deletes late (up to days; moto never does), so every expiry is also checked in code (a day's SMS
counter needs no check: the next day counts on another item)."""

import zlib

STATE = "STATE#"
SK_MFA = "STATE#MFA"
SK_LOCKOUT = "STATE#LOCKOUT"
SK_ENROLLMENT = "STATE#ENROLLMENT"
SK_SMS = "STATE#SMS"
DEVICE = "STATE#DEVICE#"
APP_PASSWORD = "APPPW#"
SK_APP_PASSWORD_THROTTLE = "THROTTLE#APPPW"
EVENT = "EVENT#"
SK_ACCESS_PASS = "STATE#PASS"
SK_POLICY = "POLICY"
SK_DATA_KEY = "DATAKEY"
SMS_DAY = "SMS#"
SK_TOTAL = "TOTAL"
STATS_DAY = "DAY#"
TTL_ATTRIBUTE = "purge_at"
USER_LIST = "UserList"
STATS_SHARDS = 8


def tenant_pk(tenant: str) -> str:
    return f"T#{tenant}"


def user_pk(tenant: str, user: str) -> str:
    return f"T#{tenant}#U#{user}"


def device_sk(slot: int | str) -> str:
    return f"{DEVICE}{slot}"


def sms_day_sk(day: int) -> str:
    return f"{SMS_DAY}{day}"


def sms_number_day_sk(day: int, number: str) -> str:
    return f"{SMS_DAY}{day}#{number}"


def stats_pk(tenant: str, user: str) -> str:
    """The counter shard of `user`'s writes (crc32: the same shard in every process)."""
    return stats_shard_pk(tenant, zlib.crc32(user.encode()) % STATS_SHARDS)


def stats_shard_pk(tenant: str, shard: int) -> str:
    return f"T#{tenant}#STATS#{shard}"


def stats_day_sk(day: int) -> str:
    return f"{STATS_DAY}{day:06d}"


def user_listing(tenant: str) -> str:
    return tenant


def failing_listing(tenant: str) -> str:
    return f"{tenant}#failing"
