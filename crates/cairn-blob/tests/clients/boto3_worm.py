"""Unmodified boto3 against Cairn's blob store: the WORM rules of issue 15.

Run by tests/s3_clients.rs with the pinned venv's interpreter:
    python boto3_worm.py ENDPOINT ADMIN_ID ADMIN_SECRET ALICE_ID ALICE_SECRET
ADMIN may bypass governance retention; ALICE may not. Prints one line per
check and ends with "N passed, 0 failed"; exits non-zero on the first failure.
"""

import datetime
import sys
import time

import boto3
import botocore.exceptions

URL, ADMIN_ID, ADMIN_SECRET, ALICE_ID, ALICE_SECRET = sys.argv[1:6]
PASSED = 0


def client(key_id, secret):
    return boto3.client(
        "s3",
        endpoint_url=URL,
        region_name="us-east-1",
        aws_access_key_id=key_id,
        aws_secret_access_key=secret,
    )


admin = client(ADMIN_ID, ADMIN_SECRET)
alice = client(ALICE_ID, ALICE_SECRET)


def check(name, condition, detail=""):
    global PASSED
    if not condition:
        print(f"FAIL {name}: {detail}")
        print(f"{PASSED} passed, 1 failed")
        sys.exit(1)
    PASSED += 1
    print(f"ok   {name}")


def refused(name, call, code, *words, **kwargs):
    """The call fails with S3 error `code` and a message containing every word."""
    try:
        call(**kwargs)
    except botocore.exceptions.ClientError as e:
        err = e.response["Error"]
        message = err.get("Message", "")
        check(
            name,
            err["Code"] == code and all(w in message for w in words),
            f"got {err['Code']}: {message}",
        )
        return message
    check(name, False, "the call succeeded")
    return ""


def later(**delta):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(**delta)


B = "worm-boto3"
admin.create_bucket(Bucket=B, ObjectLockEnabledForBucket=True)
conf = admin.get_object_lock_configuration(Bucket=B)["ObjectLockConfiguration"]
check("bucket created with object lock", conf["ObjectLockEnabled"] == "Enabled", conf)

# 1. Compliance: no one deletes or overwrites before the date.
until = later(days=1).replace(microsecond=0)
v1 = alice.put_object(
    Bucket=B, Key="c.txt", Body=b"compliance v1",
    ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
)["VersionId"]
head = alice.head_object(Bucket=B, Key="c.txt", VersionId=v1)
check("compliance mode on the version", head["ObjectLockMode"] == "COMPLIANCE", head)
check("retain-until on the version", head["ObjectLockRetainUntilDate"] == until, head)
date = until.strftime("%Y-%m-%dT%H:%M:%S")
refused("compliance: the writer cannot delete", alice.delete_object, "AccessDenied",
        "COMPLIANCE", date, Bucket=B, Key="c.txt", VersionId=v1)
refused("compliance: an allowed caller with the bypass cannot delete", admin.delete_object,
        "AccessDenied", "COMPLIANCE", Bucket=B, Key="c.txt", VersionId=v1,
        BypassGovernanceRetention=True)
refused("compliance: retention cannot be shortened", admin.put_object_retention, "AccessDenied",
        "COMPLIANCE", Bucket=B, Key="c.txt", VersionId=v1, BypassGovernanceRetention=True,
        Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later(hours=1)})
refused("compliance: mode cannot change to governance", admin.put_object_retention,
        "AccessDenied", "COMPLIANCE", Bucket=B, Key="c.txt", VersionId=v1,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(days=2)})
alice.put_object_retention(Bucket=B, Key="c.txt", VersionId=v1,
                           Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later(days=2)})
extended = alice.get_object_retention(Bucket=B, Key="c.txt", VersionId=v1)["Retention"]
check("compliance: retention can be extended", extended["RetainUntilDate"] > until, extended)
v2 = admin.put_object(Bucket=B, Key="c.txt", Body=b"an overwrite attempt")["VersionId"]
old = alice.get_object(Bucket=B, Key="c.txt", VersionId=v1)["Body"].read()
check("compliance: an overwrite is a new version, the old bytes stay",
      v2 != v1 and old == b"compliance v1", (v1, v2, old))

# 2. Governance: only the bypass header from an allowed caller.
vg = alice.put_object(
    Bucket=B, Key="g.txt", Body=b"governance",
    ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(days=1),
)["VersionId"]
refused("governance: delete without the bypass header is refused", admin.delete_object,
        "AccessDenied", "GOVERNANCE", Bucket=B, Key="g.txt", VersionId=vg)
refused("governance: the bypass header from a caller not allowed is refused", alice.delete_object,
        "AccessDenied", "not allowed to bypass", Bucket=B, Key="g.txt", VersionId=vg,
        BypassGovernanceRetention=True)
refused("governance: shortening without bypass is refused", alice.put_object_retention,
        "AccessDenied", "GOVERNANCE", Bucket=B, Key="g.txt", VersionId=vg,
        Retention={"Mode": "GOVERNANCE", "RetainUntilDate": later(hours=1)})
admin.delete_object(Bucket=B, Key="g.txt", VersionId=vg, BypassGovernanceRetention=True)
try:
    admin.head_object(Bucket=B, Key="g.txt", VersionId=vg)
    check("governance: the allowed bypass deletes the version", False, "still there")
except botocore.exceptions.ClientError as e:
    check("governance: the allowed bypass deletes the version",
          e.response["Error"]["Code"] in ("404", "NoSuchVersion"), e.response)

# 3. Legal hold blocks deletion regardless of retention (and of the bypass).
vh = alice.put_object(
    Bucket=B, Key="h.txt", Body=b"held",
    ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=later(days=1),
)["VersionId"]
alice.put_object_legal_hold(Bucket=B, Key="h.txt", VersionId=vh, LegalHold={"Status": "ON"})
hold = alice.get_object_legal_hold(Bucket=B, Key="h.txt", VersionId=vh)["LegalHold"]
check("legal hold reads back ON", hold["Status"] == "ON", hold)
refused("legal hold: the allowed bypass cannot delete", admin.delete_object, "AccessDenied",
        "legal hold", Bucket=B, Key="h.txt", VersionId=vh, BypassGovernanceRetention=True)
vn = alice.put_object(Bucket=B, Key="n.txt", Body=b"no retention")["VersionId"]
alice.put_object_legal_hold(Bucket=B, Key="n.txt", VersionId=vn, LegalHold={"Status": "ON"})
refused("legal hold without any retention blocks deletion", admin.delete_object, "AccessDenied",
        "legal hold", Bucket=B, Key="n.txt", VersionId=vn)
alice.put_object_legal_hold(Bucket=B, Key="h.txt", VersionId=vh, LegalHold={"Status": "OFF"})
admin.delete_object(Bucket=B, Key="h.txt", VersionId=vh, BypassGovernanceRetention=True)
check("after the hold is removed the allowed bypass deletes", True)

# 4. A delete without a version id leaves a marker; the version stays readable.
marker = alice.delete_object(Bucket=B, Key="c.txt")
check("delete without version id creates a delete marker", marker.get("DeleteMarker") is True, marker)
try:
    alice.get_object(Bucket=B, Key="c.txt")
    check("the key now looks deleted", False, "GET without version succeeded")
except botocore.exceptions.ClientError as e:
    check("the key now looks deleted", e.response["Error"]["Code"] == "NoSuchKey", e.response)
body = alice.get_object(Bucket=B, Key="c.txt", VersionId=v1)["Body"].read()
check("the compliance version is still readable by version id", body == b"compliance v1", body)
versions = alice.list_object_versions(Bucket=B, Prefix="c.txt")
markers = [m["VersionId"] for m in versions.get("DeleteMarkers", [])]
kept = [v["VersionId"] for v in versions.get("Versions", [])]
check("listing shows the marker and the hidden versions",
      markers == [marker["VersionId"]] and v1 in kept and v2 in kept, versions)
listed = [o["Key"] for o in alice.list_objects_v2(Bucket=B).get("Contents", [])]
check("list_objects_v2 hides the marked key", "c.txt" not in listed and "n.txt" in listed, listed)

# 5. Retention ends at its date (real time).
short_until = later(seconds=8)
ve = alice.put_object(
    Bucket=B, Key="e.txt", Body=b"short",
    ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=short_until,
)["VersionId"]
refused("compliance holds until its date", alice.delete_object, "AccessDenied", "COMPLIANCE",
        Bucket=B, Key="e.txt", VersionId=ve)
time.sleep(max(0.0, (short_until - later()).total_seconds()) + 1.5)
alice.delete_object(Bucket=B, Key="e.txt", VersionId=ve)
check("after its date the version can be deleted", True)

# 6. Bucket default retention applies to new versions.
admin.put_object_lock_configuration(Bucket=B, ObjectLockConfiguration={
    "ObjectLockEnabled": "Enabled",
    "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}},
})
vd = alice.put_object(Bucket=B, Key="d.txt", Body=b"default")["VersionId"]
head = alice.head_object(Bucket=B, Key="d.txt", VersionId=vd)
check("the bucket default retention applies", head.get("ObjectLockMode") == "GOVERNANCE", head)

# 7. Object lock cannot be turned on later; a wrong secret is refused.
admin.create_bucket(Bucket="plain-boto3")
refused("object lock cannot be enabled on an existing bucket", admin.put_object_lock_configuration,
        "InvalidBucketState", "existing buckets", Bucket="plain-boto3",
        ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
refused("a wrong secret is refused", client(ALICE_ID, "wrong").list_buckets,
        "SignatureDoesNotMatch")

print(f"{PASSED} passed, 0 failed")
