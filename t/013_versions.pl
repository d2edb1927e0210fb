
# Copyright (c) pgtls_audit contributors

# What newer PostgreSQL majors add to a connection attempt.
#
# From 17: TLS opened directly (sslnegotiation=direct, with ALPN) rather
# than after an SSLRequest; the log line says which (tls_negotiation) and
# the ALPN protocol selected (alpn).  A direct handshake without ALPN, which
# PostgreSQL refuses, is a refused attempt like any other.
#
# From 18: the "oauth" authentication method is a valid name in
# pgtls_audit.forbidden_auth_methods and is reported as auth_method; before
# 18 the name is refused like any unrecognized method.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $version = PostgreSQL::Test::Cluster->new('probe')->pg_version;
my $has_oauth = $version >= 18;

# An oauth pg_hba line needs a validator library named in the settings; it
# is loaded only once a client starts the OAuth exchange, which libpq does
# not do without an issuer and a flow: the attempt ends at the method.
my $node = PgtlsAuditTest::tls_node(
	'versions', $pki,
	conf => $has_oauth
	? "oauth_validator_libraries = 'pgtls_audit_test_validator'\n"
	: '',
	hba => PgtlsAuditTest::hba_lines(
		$has_oauth
		? ('hostssl all oauthuser 127.0.0.1/32 oauth '
			  . 'issuer="https://127.0.0.1/issuer" scope="openid"')
		: ()));
PgtlsAuditTest::create_roles($node, 'alice', 'oauthuser');
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');

# What history and connections say of this very session.
sub seen_in_views
{
	my (%opts) = @_;
	return $node->safe_psql(
		'postgres', q{
SELECT c.tls_negotiation || '/' || coalesce(c.alpn, '-'),
       h.tls_negotiation || '/' || coalesce(h.alpn, '-')
  FROM pgtls_audit.connections c JOIN pgtls_audit.history h USING (event_id)
 WHERE c.pid = pg_backend_pid()},
		connstr => PgtlsAuditTest::tls_connstr($node, $pki, %opts));
}

# How TLS was negotiated: always after an SSLRequest before 17.
my $has_direct = $version >= 17;
my %alice = (user => 'alice', password => 'alice-secret');
my $line = PgtlsAuditTest::client_attempt($node, $pki, %alice,
	$has_direct ? (extra => 'sslnegotiation=postgres') : ())->{lines}[0];
is($line->{tls_negotiation}, 'postgres', 'SSLRequest: tls_negotiation=postgres');
is($line->{alpn}, $has_direct ? 'postgresql' : undef,
	'SSLRequest: ALPN as the server selected it (none before 17)');
is( seen_in_views(%alice, $has_direct ? (extra => 'sslnegotiation=postgres') : ()),
	$has_direct ? 'postgres/postgresql|postgres/postgresql' : 'postgres/-|postgres/-',
	'SSLRequest: connections and history say so too');
$line = PgtlsAuditTest::client_attempt($node, $pki, %alice,
	sslmode => 'disable')->{lines}[0];
ok(!exists $line->{tls_negotiation} && !exists $line->{alpn},
	'plaintext: no tls_negotiation, no alpn');

SKIP:
{
	skip "no direct TLS negotiation before 17 ($version)", 7
	  unless $has_direct;

	$line = PgtlsAuditTest::client_attempt($node, $pki, %alice,
		extra => 'sslnegotiation=direct')->{lines}[0];
	is($line->{outcome}, 'accepted', 'direct: accepted');
	is($line->{tls_negotiation}, 'direct', 'direct: tls_negotiation=direct');
	is($line->{alpn}, 'postgresql', 'direct: alpn=postgresql');
	is(seen_in_views(%alice, extra => 'sslnegotiation=direct'),
		'direct/postgresql|direct/postgresql',
		'direct: connections and history say so too');

	# A direct handshake without ALPN: PostgreSQL refuses it once TLS is up.
	my $offset = -s $node->logfile;
	my ($in, $out, $err) = ('', '', '');
	IPC::Run::run(
		[
			'openssl', 's_client', '-connect', '127.0.0.1:' . $node->port,
			'-servername', 'localhost', '-CAfile', $pki->{ca_cert}
		],
		'<', \$in, '>', \$out, '2>', \$err);
	($line) = PgtlsAuditTest::wait_for_audit($node, $offset, 1);
	is($line->{outcome}, 'refused', 'direct without ALPN: refused');
	like($line->{reason}, qr/without ALPN/,
		'direct without ALPN: PostgreSQL\'s reason');
	is($line->{tls_negotiation}, 'direct',
		'direct without ALPN: tls_negotiation=direct');
}

# "oauth" in pgtls_audit.forbidden_auth_methods.
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"ALTER SYSTEM SET pgtls_audit.forbidden_auth_methods = 'oauth, trust'");
if ($has_oauth)
{
	is($ret, 0, "forbidden_auth_methods accepts oauth on $version");
	PgtlsAuditTest::set_policy($node, forbidden_auth_methods => 'oauth, trust');
	PgtlsAuditTest::set_policy($node, forbidden_auth_methods => undef);
}
else
{
	like(
		$stderr,
		qr/Unrecognized authentication method: "oauth"/,
		"forbidden_auth_methods refuses oauth before 18 ($version)");
}

# An attempt that reaches the oauth method.
SKIP:
{
	skip "no oauth authentication method before 18 ($version)", 3
	  unless $has_oauth;

	my $tag = 'pgtls_audit_oauth';
	my $offset = -s $node->logfile;
	# the SQL on the command line: psql exits without reading its input
	($ret, $stdout, $stderr) = $node->psql(
		'postgres', '',
		connstr => PgtlsAuditTest::tls_connstr(
			$node, $pki,
			user => 'oauthuser',
			application_name => $tag),
		extra_params => [ '-w', '-c', 'SELECT 1' ]);
	isnt($ret, 0, 'oauth: libpq gives up without an OAuth flow');
	($line) = grep { ($_->{application_name} // '') eq $tag }
	  PgtlsAuditTest::wait_for_audit($node, $offset, 1);
	is($line->{auth_method}, 'oauth', 'oauth: reported as auth_method');
	is($line->{ssl}, 'true', 'oauth: over TLS');
}

done_testing();
