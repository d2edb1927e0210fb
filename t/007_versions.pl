
# Copyright (c) pgtls_audit contributors

# What newer PostgreSQL majors add to a connection attempt.  From 18: the
# "oauth" authentication method is a valid name in
# pgtls_audit.forbidden_auth_methods and is reported as auth_method; before
# 18 the name is refused like any unrecognized method.

use strict;
use warnings;

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
PgtlsAuditTest::create_roles($node, 'oauthuser');

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
	($ret, $stdout, $stderr) = $node->psql(
		'postgres', 'SELECT 1',
		connstr => PgtlsAuditTest::tls_connstr(
			$node, $pki,
			user => 'oauthuser',
			application_name => $tag),
		extra_params => ['-w']);
	isnt($ret, 0, 'oauth: libpq gives up without an OAuth flow');
	my ($line) = grep { ($_->{application_name} // '') eq $tag }
	  PgtlsAuditTest::wait_for_audit($node, $offset, 1);
	is($line->{auth_method}, 'oauth', 'oauth: reported as auth_method');
	is($line->{ssl}, 'true', 'oauth: over TLS');
}

done_testing();
