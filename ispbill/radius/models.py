"""RADIUS provisioning: ispbill's own records (credentials, NAS, policy) and the FreeRADIUS
SQL tables (``radcheck``, ``radreply``, ``radusergroup``, ``radgroupreply``, ``radacct``,
``nas``) with FreeRADIUS's standard column names.

The FreeRADIUS tables are created by this app's migration with the schema of FreeRADIUS's
own ``mods-config/sql/main/<dialect>/schema.sql`` (see ``schema.py``); their models are
unmanaged and live on the database alias ``radius_alias()`` returns (ispbill's own database
unless ``RADIUS_DATABASE_URL`` is set)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from ispbill.core.tenancy import PartnerScopedManager


class CredentialKind(models.TextChoices):
    PPPOE = "pppoe", "PPPoE user name and password"
    MAC = "mac", "MAC address"
    IP = "ip", "IP address"


class RadiusCredential(models.Model):
    """How the network recognises one internet service: the User-Name its NAS sends."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    service = models.OneToOneField(
        "subscriptions.Service", on_delete=models.PROTECT, related_name="radius_credential"
    )
    kind = models.CharField(max_length=8, choices=CredentialKind.choices)
    # The RADIUS User-Name: the PPPoE login, the MAC (aa:bb:cc:dd:ee:ff) or the IP address.
    username = models.CharField(max_length=64, unique=True)
    # Stored in clear: CHAP and MS-CHAP need the cleartext on the RADIUS server.
    password = models.CharField(max_length=128, blank=True)
    framed_ip = models.GenericIPAddressField(
        null=True, blank=True, protocol="IPv4", help_text="Static address given on connect"
    )
    # The User-Name last written to the RADIUS tables: a renamed login is removed there.
    provisioned_username = models.CharField(max_length=64, blank=True, editable=False)
    # The tariff's cap reached this month (docs/usage.md): "throttle" or "block" until the
    # first of the month after ``capped_month``.
    capped = models.CharField(max_length=8, blank=True, default="", editable=False)
    capped_month = models.DateField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=[k.value for k in CredentialKind]),
                name="radius_credential_kind_valid",
            ),
        ]

    def __str__(self) -> str:
        return self.username


class NasType(models.TextChoices):
    MIKROTIK = "mikrotik", "MikroTik RouterOS"
    CISCO = "cisco", "Cisco"
    JUNIPER = "juniper", "Juniper"
    OTHER = "other", "Other"


class Nas(models.Model):
    """A router (BRAS, access concentrator) that asks FreeRADIUS and accepts CoA. The
    operator's infrastructure: shared by every partner's customers."""

    name = models.CharField(max_length=32, unique=True)
    address = models.GenericIPAddressField(unique=True, help_text="NAS-IP-Address it sends")
    secret = models.CharField(max_length=60, help_text="RADIUS shared secret")
    coa_port = models.PositiveIntegerField(default=3799)
    type = models.CharField(max_length=16, choices=NasType.choices, default=NasType.MIKROTIK)
    description = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "NAS"
        verbose_name_plural = "NAS"

    def __str__(self) -> str:
        return f"{self.name} ({self.address})"


class BlockedPolicy(models.TextChoices):
    REJECT = "reject", "Reject the connection"
    POOL = "pool", "Connect into the blocked address pool"


class RadiusPolicy(models.Model):
    """One row (pk 1): what a blocked customer gets from the network."""

    blocked = models.CharField(
        max_length=8, choices=BlockedPolicy.choices, default=BlockedPolicy.REJECT
    )
    blocked_group = models.CharField(max_length=64, default="blocked")
    blocked_pool = models.CharField(
        max_length=64, default="blocked", help_text="Framed-Pool name configured on the NAS"
    )
    blocked_address_list = models.CharField(
        max_length=64,
        default="blocked",
        blank=True,
        help_text="MikroTik address list that redirects to the payment page",
    )

    class Meta:
        verbose_name = "RADIUS policy"
        verbose_name_plural = "RADIUS policy"

    def __str__(self) -> str:
        return f"blocked: {self.blocked}"


class UsageDay(models.Model):
    """Traffic of one service on one day (the day of the accounting update that reported
    it), from the customer's side: in = uploaded, out = downloaded (NAS's view reversed is
    not applied: FreeRADIUS's input/output octets are stored as they come)."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    # The service's customer (copied): the portal's customer scope reads its own rows.
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(
        "subscriptions.Service", on_delete=models.PROTECT, related_name="usage_days"
    )
    day = models.DateField()
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["service", "day"]
        constraints = [
            models.UniqueConstraint(fields=["service", "day"], name="usageday_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.day}"


class UsageWatermark(models.Model):
    """Per accounting session: the cumulative octets already counted into ``UsageDay``."""

    acctuniqueid = models.TextField(unique=True)
    bytes_in = models.BigIntegerField(default=0)
    bytes_out = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return self.acctuniqueid


class UsageOverage(models.Model):
    """A month's overage already charged for a service: charged once."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("subscriptions.Service", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    gigabytes = models.PositiveIntegerField()
    charge = models.ForeignKey(
        "subscriptions.OneTimeCharge", on_delete=models.PROTECT, related_name="+"
    )

    objects = PartnerScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "month"], name="usageoverage_once"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.month}"


class UsageTopUp(models.Model):
    """Extra volume bought for one month of a service (docs/usage.md): raises the month's
    allowance at once; billed by its one-time charge."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey(
        "subscriptions.Service", on_delete=models.PROTECT, related_name="usage_topups"
    )
    month = models.DateField(help_text="First day of the month it adds to")
    packs = models.PositiveIntegerField()
    gigabytes = models.PositiveIntegerField(help_text="packs × the pack's GB")
    charge = models.ForeignKey(
        "subscriptions.OneTimeCharge", on_delete=models.PROTECT, related_name="+"
    )
    # Who bought it: "customer" (portal), "staff" (operator or partner), "api".
    channel = models.CharField(max_length=10)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["service", "month"], name="usagetopup_service_month")]
        constraints = [
            models.CheckConstraint(condition=Q(gigabytes__gt=0), name="usagetopup_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.month} +{self.gigabytes} GB"


class UsageRollover(models.Model):
    """Unused included volume of the month before carried into ``month`` (docs/usage.md):
    written once by the first collection of the month, zero included."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    # The service's customer (copied): the portal's customer scope reads its own rows.
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("subscriptions.Service", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    bytes = models.BigIntegerField()

    objects = PartnerScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "month"], name="usagerollover_once"),
            models.CheckConstraint(condition=Q(bytes__gte=0), name="usagerollover_nonnegative"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.month} {self.bytes}"


class UsageAlert(models.Model):
    """A threshold alert sent for a service's month: sent once per threshold."""

    partner = models.ForeignKey("partners.Partner", on_delete=models.PROTECT, related_name="+")
    customer = models.ForeignKey("customers.Customer", on_delete=models.PROTECT, related_name="+")
    service = models.ForeignKey("subscriptions.Service", on_delete=models.PROTECT, related_name="+")
    month = models.DateField()
    percent = models.PositiveIntegerField()
    used_bytes = models.BigIntegerField()
    allowance_bytes = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)

    objects = PartnerScopedManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["service", "month", "percent"], name="usagealert_once"),
        ]

    def __str__(self) -> str:
        return f"{self.service_id} {self.month} {self.percent} %"


# --- FreeRADIUS's tables (unmanaged; created by the migration from FreeRADIUS's schema) ---


class RadCheck(models.Model):
    id = models.AutoField(primary_key=True)
    username = models.TextField(default="")
    attribute = models.TextField(default="")
    op = models.CharField(max_length=2, default="==")
    value = models.TextField(default="")

    freeradius_table = True

    class Meta:
        managed = False
        db_table = "radcheck"


class RadReply(models.Model):
    id = models.AutoField(primary_key=True)
    username = models.TextField(default="")
    attribute = models.TextField(default="")
    op = models.CharField(max_length=2, default="=")
    value = models.TextField(default="")

    freeradius_table = True

    class Meta:
        managed = False
        db_table = "radreply"


class RadUserGroup(models.Model):
    id = models.AutoField(primary_key=True)
    username = models.TextField(default="")
    groupname = models.TextField(default="")
    priority = models.IntegerField(default=0)

    freeradius_table = True

    class Meta:
        managed = False
        db_table = "radusergroup"


class RadGroupReply(models.Model):
    id = models.AutoField(primary_key=True)
    groupname = models.TextField(default="")
    attribute = models.TextField(default="")
    op = models.CharField(max_length=2, default="=")
    value = models.TextField(default="")

    freeradius_table = True

    class Meta:
        managed = False
        db_table = "radgroupreply"


class RadNas(models.Model):
    """FreeRADIUS's ``nas`` table (clients read with ``read_clients = yes``)."""

    id = models.AutoField(primary_key=True)
    nasname = models.TextField()
    shortname = models.TextField()
    type = models.TextField(default="other")
    ports = models.IntegerField(null=True)
    secret = models.TextField()
    server = models.TextField(blank=True)
    community = models.TextField(blank=True)
    description = models.TextField(blank=True)

    freeradius_table = True

    class Meta:
        managed = False
        db_table = "nas"


class RadAcct(models.Model):
    """Accounting records written by FreeRADIUS: one row per session. Read only here."""

    radacctid = models.BigAutoField(primary_key=True)
    acctsessionid = models.TextField()
    acctuniqueid = models.TextField(unique=True)
    username = models.TextField(blank=True)
    realm = models.TextField(blank=True)
    # inet on PostgreSQL; read back as text by the selectors.
    nasipaddress = models.TextField()
    nasportid = models.TextField(blank=True)
    nasporttype = models.TextField(blank=True)
    acctstarttime = models.DateTimeField(null=True)
    acctupdatetime = models.DateTimeField(null=True)
    acctstoptime = models.DateTimeField(null=True)
    acctinterval = models.BigIntegerField(null=True)
    acctsessiontime = models.BigIntegerField(null=True)
    acctauthentic = models.TextField(blank=True)
    connectinfo_start = models.TextField(blank=True)
    connectinfo_stop = models.TextField(blank=True)
    acctinputoctets = models.BigIntegerField(null=True)
    acctoutputoctets = models.BigIntegerField(null=True)
    calledstationid = models.TextField(blank=True)
    callingstationid = models.TextField(blank=True)
    acctterminatecause = models.TextField(blank=True)
    servicetype = models.TextField(blank=True)
    framedprotocol = models.TextField(blank=True)
    framedipaddress = models.TextField(blank=True)
    framedipv6address = models.TextField(blank=True)
    framedipv6prefix = models.TextField(blank=True)
    framedinterfaceid = models.TextField(blank=True)
    delegatedipv6prefix = models.TextField(blank=True)
    # "class" is a Python keyword. Text columns may hold NULL (FreeRADIUS writes them); the
    # selectors read None as empty.
    acct_class = models.TextField(blank=True, db_column="class")

    freeradius_table = True

    class Meta:
        managed = False
        db_table = "radacct"
