"""The FreeRADIUS SQL schema, per dialect, as Debian's ``freeradius`` package ships it in
``/etc/freeradius/3.0/mods-config/sql/main/<dialect>/schema.sql`` (FreeRADIUS 3.2), with
comments dropped and ``IF NOT EXISTS`` added to the indexes so that an existing FreeRADIUS
database is adopted as it is."""

from __future__ import annotations

TABLES = (
    "radacct",
    "radcheck",
    "radgroupcheck",
    "radgroupreply",
    "radreply",
    "radusergroup",
    "radpostauth",
    "nas",
    "nasreload",
)

POSTGRESQL: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS radacct (
RadAcctId bigserial PRIMARY KEY,
AcctSessionId text NOT NULL,
AcctUniqueId text NOT NULL UNIQUE,
UserName text,
Realm text,
NASIPAddress inet NOT NULL,
NASPortId text,
NASPortType text,
AcctStartTime timestamp with time zone,
AcctUpdateTime timestamp with time zone,
AcctStopTime timestamp with time zone,
AcctInterval bigint,
AcctSessionTime bigint,
AcctAuthentic text,
ConnectInfo_start text,
ConnectInfo_stop text,
AcctInputOctets bigint,
AcctOutputOctets bigint,
CalledStationId text,
CallingStationId text,
AcctTerminateCause text,
ServiceType text,
FramedProtocol text,
FramedIPAddress inet,
FramedIPv6Address inet,
FramedIPv6Prefix inet,
FramedInterfaceId text,
DelegatedIPv6Prefix inet,
Class text
)
""",
    "CREATE INDEX IF NOT EXISTS radacct_active_session_idx ON radacct (AcctUniqueId)"
    " WHERE AcctStopTime IS NULL",
    "CREATE INDEX IF NOT EXISTS radacct_bulk_close ON radacct (NASIPAddress, AcctStartTime)"
    " WHERE AcctStopTime IS NULL",
    "CREATE INDEX IF NOT EXISTS radacct_start_user_idx ON radacct (AcctStartTime, UserName)",
    "CREATE INDEX IF NOT EXISTS radacct_calss_idx ON radacct (Class)",
    """
CREATE TABLE IF NOT EXISTS radcheck (
id serial PRIMARY KEY,
UserName text NOT NULL DEFAULT '',
Attribute text NOT NULL DEFAULT '',
op VARCHAR(2) NOT NULL DEFAULT '==',
Value text NOT NULL DEFAULT ''
)
""",
    "CREATE INDEX IF NOT EXISTS radcheck_UserName on radcheck (UserName,Attribute)",
    """
CREATE TABLE IF NOT EXISTS radgroupcheck (
id serial PRIMARY KEY,
GroupName text NOT NULL DEFAULT '',
Attribute text NOT NULL DEFAULT '',
op VARCHAR(2) NOT NULL DEFAULT '==',
Value text NOT NULL DEFAULT ''
)
""",
    "CREATE INDEX IF NOT EXISTS radgroupcheck_GroupName on radgroupcheck (GroupName,Attribute)",
    """
CREATE TABLE IF NOT EXISTS radgroupreply (
id serial PRIMARY KEY,
GroupName text NOT NULL DEFAULT '',
Attribute text NOT NULL DEFAULT '',
op VARCHAR(2) NOT NULL DEFAULT '=',
Value text NOT NULL DEFAULT ''
)
""",
    "CREATE INDEX IF NOT EXISTS radgroupreply_GroupName on radgroupreply (GroupName,Attribute)",
    """
CREATE TABLE IF NOT EXISTS radreply (
id serial PRIMARY KEY,
UserName text NOT NULL DEFAULT '',
Attribute text NOT NULL DEFAULT '',
op VARCHAR(2) NOT NULL DEFAULT '=',
Value text NOT NULL DEFAULT ''
)
""",
    "CREATE INDEX IF NOT EXISTS radreply_UserName on radreply (UserName,Attribute)",
    """
CREATE TABLE IF NOT EXISTS radusergroup (
id serial PRIMARY KEY,
UserName text NOT NULL DEFAULT '',
GroupName text NOT NULL DEFAULT '',
priority integer NOT NULL DEFAULT 0
)
""",
    "CREATE INDEX IF NOT EXISTS radusergroup_UserName on radusergroup (UserName)",
    """
CREATE TABLE IF NOT EXISTS radpostauth (
id bigserial PRIMARY KEY,
username text NOT NULL,
pass text,
reply text,
CalledStationId text,
CallingStationId text,
authdate timestamp with time zone NOT NULL default now(),
Class text
)
""",
    "CREATE INDEX IF NOT EXISTS radpostauth_username_idx ON radpostauth (username)",
    "CREATE INDEX IF NOT EXISTS radpostauth_class_idx ON radpostauth (Class)",
    """
CREATE TABLE IF NOT EXISTS nas (
id serial PRIMARY KEY,
nasname text NOT NULL,
shortname text NOT NULL,
type text NOT NULL DEFAULT 'other',
ports integer,
secret text NOT NULL,
server text,
community text,
description text
)
""",
    "CREATE INDEX IF NOT EXISTS nas_nasname on nas (nasname)",
    """
CREATE TABLE IF NOT EXISTS nasreload (
NASIPAddress inet PRIMARY KEY,
ReloadTime timestamp with time zone NOT NULL
)
""",
)

SQLITE: tuple[str, ...] = (
    """
CREATE TABLE IF NOT EXISTS radacct (
radacctid INTEGER PRIMARY KEY AUTOINCREMENT,
acctsessionid varchar(64) NOT NULL default '',
acctuniqueid varchar(32) NOT NULL default '',
username varchar(64) NOT NULL default '',
realm varchar(64) default '',
nasipaddress varchar(15) NOT NULL default '',
nasportid varchar(32) default NULL,
nasporttype varchar(32) default NULL,
acctstarttime datetime NULL default NULL,
acctupdatetime datetime NULL default NULL,
acctstoptime datetime NULL default NULL,
acctinterval int(12) default NULL,
acctsessiontime int(12) default NULL,
acctauthentic varchar(32) default NULL,
connectinfo_start varchar(128) default NULL,
connectinfo_stop varchar(128) default NULL,
acctinputoctets bigint(20) default NULL,
acctoutputoctets bigint(20) default NULL,
calledstationid varchar(50) NOT NULL default '',
callingstationid varchar(50) NOT NULL default '',
acctterminatecause varchar(32) NOT NULL default '',
servicetype varchar(32) default NULL,
framedprotocol varchar(32) default NULL,
framedipaddress varchar(15) NOT NULL default '',
framedipv6address varchar(45) NOT NULL default '',
framedipv6prefix varchar(45) NOT NULL default '',
framedinterfaceid varchar(44) NOT NULL default '',
delegatedipv6prefix varchar(45) NOT NULL default '',
class varchar(64) default NULL
)
""",
    "CREATE UNIQUE INDEX IF NOT EXISTS acctuniqueid ON radacct(acctuniqueid)",
    "CREATE INDEX IF NOT EXISTS username ON radacct(username)",
    "CREATE INDEX IF NOT EXISTS framedipaddress ON radacct (framedipaddress)",
    "CREATE INDEX IF NOT EXISTS framedipv6address ON radacct (framedipv6address)",
    "CREATE INDEX IF NOT EXISTS framedipv6prefix ON radacct (framedipv6prefix)",
    "CREATE INDEX IF NOT EXISTS framedinterfaceid ON radacct (framedinterfaceid)",
    "CREATE INDEX IF NOT EXISTS delegatedipv6prefix ON radacct (delegatedipv6prefix)",
    "CREATE INDEX IF NOT EXISTS acctsessionid ON radacct(acctsessionid)",
    "CREATE INDEX IF NOT EXISTS acctsessiontime ON radacct(acctsessiontime)",
    "CREATE INDEX IF NOT EXISTS acctstarttime ON radacct(acctstarttime)",
    "CREATE INDEX IF NOT EXISTS acctinterval ON radacct(acctinterval)",
    "CREATE INDEX IF NOT EXISTS acctstoptime ON radacct(acctstoptime)",
    "CREATE INDEX IF NOT EXISTS nasipaddress ON radacct(nasipaddress)",
    "CREATE INDEX IF NOT EXISTS class ON radacct(class)",
    """
CREATE TABLE IF NOT EXISTS radcheck (
id INTEGER PRIMARY KEY AUTOINCREMENT,
username varchar(64) NOT NULL default '',
attribute varchar(64) NOT NULL default '',
op char(2) NOT NULL DEFAULT '==',
value varchar(253) NOT NULL default ''
)
""",
    "CREATE INDEX IF NOT EXISTS check_username ON radcheck(username)",
    """
CREATE TABLE IF NOT EXISTS radgroupcheck (
id INTEGER PRIMARY KEY AUTOINCREMENT,
groupname varchar(64) NOT NULL default '',
attribute varchar(64) NOT NULL default '',
op char(2) NOT NULL DEFAULT '==',
value varchar(253) NOT NULL default ''
)
""",
    "CREATE INDEX IF NOT EXISTS check_groupname ON radgroupcheck(groupname)",
    """
CREATE TABLE IF NOT EXISTS radgroupreply (
id INTEGER PRIMARY KEY AUTOINCREMENT,
groupname varchar(64) NOT NULL default '',
attribute varchar(64) NOT NULL default '',
op char(2) NOT NULL DEFAULT '=',
value varchar(253) NOT NULL default ''
)
""",
    "CREATE INDEX IF NOT EXISTS reply_groupname ON radgroupreply(groupname)",
    """
CREATE TABLE IF NOT EXISTS radreply (
id INTEGER PRIMARY KEY AUTOINCREMENT,
username varchar(64) NOT NULL default '',
attribute varchar(64) NOT NULL default '',
op char(2) NOT NULL DEFAULT '=',
value varchar(253) NOT NULL default ''
)
""",
    "CREATE INDEX IF NOT EXISTS reply_username ON radreply(username)",
    """
CREATE TABLE IF NOT EXISTS radusergroup (
id INTEGER PRIMARY KEY AUTOINCREMENT,
username varchar(64) NOT NULL default '',
groupname varchar(64) NOT NULL default '',
priority int(11) NOT NULL default '1'
)
""",
    "CREATE INDEX IF NOT EXISTS usergroup_username ON radusergroup(username)",
    """
CREATE TABLE IF NOT EXISTS radpostauth (
id INTEGER PRIMARY KEY AUTOINCREMENT,
username varchar(64) NOT NULL default '',
pass varchar(64) NOT NULL default '',
reply varchar(32) NOT NULL default '',
authdate timestamp NOT NULL,
class varchar(64) default NULL
)
""",
    "CREATE INDEX IF NOT EXISTS radpostauth_username ON radpostauth(username)",
    "CREATE INDEX IF NOT EXISTS radpostauth_class ON radpostauth(class)",
    """
CREATE TABLE IF NOT EXISTS nas (
id INTEGER PRIMARY KEY AUTOINCREMENT,
nasname varchar(128) NOT NULL,
shortname varchar(32),
type varchar(30) DEFAULT 'other',
ports int(5),
secret varchar(60) DEFAULT 'secret' NOT NULL,
server varchar(64),
community varchar(50),
description varchar(200) DEFAULT 'RADIUS Client'
)
""",
    "CREATE INDEX IF NOT EXISTS nasname ON nas(nasname)",
    """
CREATE TABLE IF NOT EXISTS nasreload (
nasipaddress varchar(15) PRIMARY KEY,
reloadtime datetime NOT NULL
)
""",
)
