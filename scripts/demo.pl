
# Copyright (c) pgtls_audit contributors

# The demo: a throw-away TLS cluster with pgtls_audit preloaded, three
# contrasting connections, and what pgtls_audit logged for each.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../t";

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgtlsAuditTest;
use Test::More;

# PostgreSQL::Test::Utils sends STDOUT to its log file; Test::More's output
# handle still reaches the terminal.
my $out = Test::More->builder->output;

my $pki = PgtlsAuditTest::make_pki();
my $cert = PgtlsAuditTest::make_client_cert($pki, 'demo_cert',
	'/O=Example Corp/OU=Payments/CN=app_payments');
my $node = PgtlsAuditTest::tls_node('demo', $pki);
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgtls_audit;
CREATE ROLE cert_users;
CREATE ROLE app_payments LOGIN IN ROLE cert_users;
CREATE ROLE reporting LOGIN PASSWORD 'reporting-secret';
});

my @connections = (
	[
		'TLSv1.3 with a client certificate (pg_hba "cert")',
		user => 'app_payments',
		cert => $cert
	],
	[
		'TLSv1.2 with SCRAM, no certificate',
		user         => 'reporting',
		password     => 'reporting-secret',
		max_protocol => 'TLSv1.2'
	],
	[
		'plaintext TCP with SCRAM (sslmode=disable)',
		user     => 'reporting',
		password => 'reporting-secret',
		sslmode  => 'disable'
	]);

foreach my $connection (@connections)
{
	my ($title, %opts) = @$connection;
	my $offset = -s $node->logfile;
	my $facts = PgtlsAuditTest::session_facts($node,
		PgtlsAuditTest::tls_connstr($node, $pki, %opts));
	my $line =
	  PgtlsAuditTest::audit_line_for_pid($node, $offset, $facts->{pid});
	$line->{_line} =~ /(pgtls_audit: .*)$/;
	print $out "\n== $title\n$1\n";
}

print $out "\n== pgtls_audit.history, the same attempts seen from SQL\n",
  $node->safe_psql(
	'postgres', q{
SELECT event_id, user_name, transport, tls_version, cipher,
       client_cert, auth_method, outcome, violations
  FROM pgtls_audit.history WHERE transport <> 'unix' ORDER BY event_id},
	extra_params =>
	  [ '-P', 'format=aligned', '-P', 'tuples_only=off', '-P', 'footer=off' ]),
  "\n";
print $out "\n(pgtls_audit.mode = audit by default: violations are listed, "
  . "nothing is rejected)\n";
$node->stop;
