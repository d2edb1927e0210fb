
# Copyright (c) pgtls_audit contributors

# GSSAPI for real, with an MIT KDC of our own on a free local port (as
# PostgreSQL's src/test/kerberos runs one): GSSAPI-encrypted sessions
# (gssencmode=require) are captured with their principal and satisfy
# require_ssl, but not require_client_cert; GSSAPI authentication inside
# TLS; a failed GSSAPI attempt (the ticket's principal is not the role) and
# one the client gives up (no ticket).  Each fact is compared with
# pg_stat_gssapi's.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my %krb5 = (
	kdb5_util    => '/usr/sbin/kdb5_util',
	kadmin_local => '/usr/sbin/kadmin.local',
	krb5kdc      => '/usr/sbin/krb5kdc',
	kinit        => '/usr/bin/kinit',
	kdestroy     => '/usr/bin/kdestroy');
plan skip_all => 'the server is built without GSSAPI'
  unless PostgreSQL::Test::Utils::check_pg_config('#define ENABLE_GSS 1');
foreach my $program (values %krb5)
{
	plan skip_all => "$program is not installed (krb5-kdc, krb5-admin-server, krb5-user)"
	  unless -x $program;
}

my $realm    = 'EXAMPLE.COM';
my $dir      = PostgreSQL::Test::Utils::tempdir();
my $kdc_port = PostgreSQL::Test::Cluster::get_free_port();
my $keytab   = "$dir/server.keytab";
my $pidfile  = "$dir/krb5kdc.pid";

# No DNS: the realm, the KDC and the host names are all given.
append_to_file(
	"$dir/krb5.conf", qq{[logging]
default = FILE:$dir/krb5libs.log
kdc = FILE:$dir/krb5kdc.log

[libdefaults]
default_realm = $realm
dns_lookup_realm = false
dns_lookup_kdc = false
dns_canonicalize_hostname = false
rdns = false
forwardable = false

[realms]
$realm = {
	kdc = 127.0.0.1:$kdc_port
}
});
append_to_file(
	"$dir/kdc.conf", qq{[kdcdefaults]
kdc_listen = 127.0.0.1:$kdc_port
kdc_tcp_listen = 127.0.0.1:$kdc_port

[realms]
$realm = {
	database_name = $dir/principal
	admin_keytab = FILE:$dir/kadm5.keytab
	acl_file = $dir/kadm5.acl
	key_stash_file = $dir/stash
}
});
$ENV{KRB5_CONFIG}      = "$dir/krb5.conf";
$ENV{KRB5_KDC_PROFILE} = "$dir/kdc.conf";
$ENV{KRB5CCNAME}       = "FILE:$dir/krb5cc";

system_or_bail($krb5{kdb5_util}, 'create', '-s', '-P', 'master-secret');
system_or_bail($krb5{kadmin_local}, '-q', 'addprinc -pw test1-secret test1');
system_or_bail($krb5{kadmin_local}, '-q', 'addprinc -randkey postgres/localhost');
system_or_bail($krb5{kadmin_local}, '-q', "ktadd -k $keytab postgres/localhost");
system_or_bail($krb5{krb5kdc}, '-P', $pidfile);

END
{
	if ($pidfile && -f $pidfile)
	{
		my $pid = slurp_file($pidfile);
		chomp $pid;
		kill 'TERM', $pid if $pid =~ /^\d+$/;
	}
}

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node(
	'gssapi', $pki,
	conf => "krb_server_keyfile = '$keytab'\nlog_error_verbosity = verbose\n",
	hba => PgtlsAuditTest::hba_lines(
		'hostgssenc all test1,alice 127.0.0.1/32 gss include_realm=0',
		'hostssl all test1,alice 127.0.0.1/32 gss include_realm=0',
		'hostnossl all test1 127.0.0.1/32 gss include_realm=0'));
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice');
$node->safe_psql('postgres', 'CREATE ROLE test1 LOGIN');

my $ticket = '';
run_log([ $krb5{kinit}, 'test1' ], '<', \'test1-secret', '>', \$ticket)
  or BAIL_OUT('kinit failed');

# A session and its audit line, with what pg_stat_gssapi and pg_stat_ssl
# say of it.
sub gss_session
{
	my (%opts) = @_;
	my $result = PgtlsAuditTest::client_attempt(
		$node, $pki, %opts,
		sql => q{SELECT concat_ws('|', g.gss_authenticated, g.encrypted,
		                          g.principal, s.ssl)
		           FROM pg_stat_gssapi g JOIN pg_stat_ssl s USING (pid)
		          WHERE pid = pg_backend_pid()});
	return ($result, $result->{lines}[0]);
}

# 1. gssencmode=require.
my ($result, $line) =
  gss_session(user => 'test1', sslmode => 'disable', extra => 'gssencmode=require');
is($result->{ret}, 0, 'gssencmode=require: connects') or diag($result->{stderr});
is($result->{stdout}, "t|t|test1\@$realm|f",
	'gssencmode=require: pg_stat_gssapi says encrypted and authenticated');
is($line->{outcome}, 'accepted', 'gssencmode=require: accepted');
is($line->{ssl}, 'false', 'gssencmode=require: no TLS');
is($line->{gss_encrypted},     'true', 'gssencmode=require: gss_encrypted');
is($line->{gss_authenticated}, 'true', 'gssencmode=require: gss_authenticated');
is($line->{gss_principal}, "test1\@$realm", 'gssencmode=require: principal');
is($line->{auth_method}, 'gss', 'gssencmode=require: auth_method');
is($line->{violations}, '', 'gssencmode=require: compliant by default');
my $pid = $line->{pid};
is( $node->safe_psql(
		'postgres',
		"SELECT concat_ws('|', ssl, gss_authenticated, gss_encrypted, gss_principal, auth_method)
		   FROM pgtls_audit.history WHERE pid = $pid"),
	"f|t|t|test1\@$realm|gss",
	'gssencmode=require: history');

# require_ssl is satisfied by GSSAPI encryption; require_client_cert is not.
PgtlsAuditTest::set_policy($node,
	require_ssl => 'on', require_client_cert => 'on', mode => 'audit');
($result, $line) =
  gss_session(user => 'test1', sslmode => 'disable', extra => 'gssencmode=require');
is($line->{violations}, 'no_client_cert',
	'audit: GSSAPI encryption is encryption, not a client certificate');
PgtlsAuditTest::set_policy($node, mode => 'enforce');
($result, $line) =
  gss_session(user => 'test1', sslmode => 'disable', extra => 'gssencmode=require');
PgtlsAuditTest::rejection_ok($result, $line,
	'connection rejected: a verified client certificate is required',
	'no_client_cert', 'enforce: require_client_cert');
PgtlsAuditTest::set_policy($node, require_client_cert => undef);
($result, $line) =
  gss_session(user => 'test1', sslmode => 'disable', extra => 'gssencmode=require');
is($result->{ret}, 0, 'enforce: require_ssl lets a GSSAPI-encrypted session in');
is($line->{outcome}, 'accepted', 'enforce: require_ssl: accepted');
($result, $line) = gss_session(user => 'test1', sslmode => 'disable',
	extra => 'gssencmode=disable');
isnt($result->{ret}, 0, 'enforce: require_ssl refuses GSSAPI without encryption');
is($line->{violations}, 'no_encryption', 'enforce: no_encryption without it');
PgtlsAuditTest::set_policy($node, require_ssl => undef, mode => undef);

# 2. GSSAPI authentication inside TLS.
($result, $line) =
  gss_session(user => 'test1', sslmode => 'require', extra => 'gssencmode=disable');
is($result->{ret}, 0, 'GSSAPI in TLS: connects') or diag($result->{stderr});
is($result->{stdout}, "t|f|test1\@$realm|t",
	'GSSAPI in TLS: pg_stat_gssapi says authenticated, not encrypted');
is_deeply(
	[ @$line{qw(outcome ssl tls_version gss_authenticated gss_encrypted gss_principal auth_method)} ],
	[ 'accepted', 'true', 'TLSv1.3', 'true', 'false', "test1\@$realm", 'gss' ],
	'GSSAPI in TLS: the line');

# 3. A failed GSSAPI attempt: the ticket is test1's, the role alice.
($result, $line) =
  gss_session(user => 'alice', sslmode => 'require', extra => 'gssencmode=disable');
like($result->{stderr}, qr/GSSAPI authentication failed for user "alice"/,
	'failed GSSAPI: refused by PostgreSQL');
is($line->{outcome}, 'auth_failed', 'failed GSSAPI: auth_failed');
is($line->{gss_authenticated}, 'false', 'failed GSSAPI: not authenticated');
is($line->{gss_principal}, "test1\@$realm",
	'failed GSSAPI: the principal that tried');
is($line->{auth_method}, 'gss', 'failed GSSAPI: method');
is($line->{ssl}, 'true', 'failed GSSAPI: inside TLS');
my @lines = grep { $_->{pid} eq $line->{pid} } PgtlsAuditTest::audit_lines($node, 0);
is(scalar(@lines), 1, 'failed GSSAPI: one line');

# 4. No ticket: the client gives up in the middle of the exchange, which
# PostgreSQL reports as a failed authentication (STATUS_ERROR, "GSSAPI
# authentication failed"): so does pgtls_audit.
system_or_bail($krb5{kdestroy});
my $offset = -s $node->logfile;
$node->connect_fails(
	PgtlsAuditTest::tls_connstr($node, $pki,
		user => 'test1', sslmode => 'require',
		extra => 'gssencmode=disable application_name=no_ticket'),
	'no ticket: the client fails',
	expected_stderr => qr/GSSAPI/);
($line) = grep { ($_->{application_name} // '') eq 'no_ticket' }
  PgtlsAuditTest::wait_for_audit($node, $offset, 1);
is($line->{outcome}, 'auth_failed', 'no ticket: auth_failed');
is($line->{auth_method}, 'gss', 'no ticket: method');
is($line->{gss_authenticated}, 'false', 'no ticket: not authenticated');
ok(!exists $line->{gss_principal}, 'no ticket: no principal');

unlike(slurp_file($node->logfile), qr/WARNING|PANIC|server process .* terminated/,
	'no warning, no crash');
$node->stop;
done_testing();
