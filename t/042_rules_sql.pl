# Copyright (c) pgtls_audit contributors

# The rules from SQL: pgtls_audit.rules shows the file on disk with its
# errors; rule_for() answers which rule and which settings would judge a
# connection, and agrees with real connections; rule_line in history,
# connections and policy_violations, the latter judged by the rules in
# force now; the upgrade from 1.0.0; and the README's audit-to-enforce
# recipe turning the history into exception rules.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki  = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('rules_sql', $pki,
	conf => "ssl_ciphers = 'DEFAULT:\@SECLEVEL=0'\n");
PgtlsAuditTest::create_roles($node, 'alice', 'bob', 'carol', 'legacy');
$node->safe_psql(
	'postgres', q{
CREATE EXTENSION pgtls_audit;
CREATE ROLE payments;
GRANT payments TO bob;
CREATE DATABASE db1;
});

my %client = map { ($_ => { user => $_, password => "$_-secret" }) }
  qw(alice bob carol legacy);

my $rules_count = 0;

sub use_rules
{
	my ($text, %policy) = @_;
	my $name = sprintf('rules_%d.conf', ++$rules_count);
	write_file($name, $text);
	PgtlsAuditTest::set_policy($node, %policy, rules_file => $name);
	return $name;
}

sub write_file
{
	my ($name, $text) = @_;
	open my $fh, '>', $node->data_dir . "/$name" or die "$name: $!";
	print $fh $text;
	close $fh;
	return;
}

sub attempt
{
	my (%opts) = @_;
	my $result = PgtlsAuditTest::client_attempt($node, $pki, %opts);
	return $result->{lines}[0];
}

#
# pgtls_audit.rules: the file on disk now, with its errors.
#
my $file = use_rules(<<'EOF');
# comment
db1,"My DB"  alice,+payments  10.0.0.0/8  mode=enforce min_protocol_version=TLSv1.3
all          bob              ::1/128     cert_subject="/^CN=bob"
all          all              127.0.0.1   255.255.255.255  min_cipher_bits=256
all          all              all
EOF
is( $node->safe_psql(
		'postgres',
		q{SELECT line_number, database, user_name, address, netmask, settings, error
		    FROM pgtls_audit.rules ORDER BY line_number}),
	qq{2|{db1,"\\"My DB\\""}|{alice,+payments}|10.0.0.0|255.0.0.0|{mode=enforce,min_protocol_version=TLSv1.3}|
3|{all}|{bob}|::1|ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff|{cert_subject=/^CN=bob}|
4|{all}|{all}|127.0.0.1|255.255.255.255|{min_cipher_bits=256}|
5|{all}|{all}|all||{}|},
	'pgtls_audit.rules shows each rule');

# An edit not yet reloaded shows, with its errors.
write_file($file, <<'EOF');
all  alice  all  nosuch=1
all  bob    all  mode=enforce
all  carol  999.1.1.1/8
EOF
is( $node->safe_psql(
		'postgres',
		q{SELECT line_number, database IS NULL, settings, error
		    FROM pgtls_audit.rules ORDER BY line_number}),
	q{1|t||unrecognized setting "nosuch"
2|f|{mode=enforce}|
3|t||invalid IP address "999.1.1.1"},
	'pgtls_audit.rules shows the errors of the file on disk');
is($node->safe_psql('postgres',
		q{SELECT rule_line FROM pgtls_audit.rule_for('alice', 'postgres', '127.0.0.1')}),
	'4', 'the rules in force are still the old ones');
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	'SELECT * FROM pgtls_audit.rules',
	extra_params => [ '-U', 'alice' ]);
like($stderr, qr/permission denied/, 'pgtls_audit.rules is not for everyone');

#
# rule_for() against real connections.
#
use_rules(<<'EOF', min_cipher_bits => '128');
all  +payments  all            min_cipher_bits=512 mode=enforce
db1  alice      ::1/128        min_protocol_version=TLSv1.3
all  alice      127.0.0.0/8    cert_issuer="CN=Some CA"
all  all        local          mode=off
EOF
my @cases = (
	[ 'bob',   'postgres', '127.0.0.1', { user => 'bob', password => 'bob-secret' } ],
	[ 'alice', 'db1',      '::1',       { %{ $client{alice} }, ipv6 => 1, extra => 'dbname=db1' } ],
	[ 'alice', 'postgres', '::1',       { %{ $client{alice} }, ipv6 => 1 } ],
	[ 'alice', 'postgres', '127.0.0.1', { %{ $client{alice} } } ],
	[ 'carol', 'postgres', '127.0.0.1', { %{ $client{carol} } } ],);
foreach my $case (@cases)
{
	my ($user, $db, $addr, $opts) = @$case;
	my $answer = $node->safe_psql('postgres',
		"SELECT coalesce(rule_line::text, 'none') FROM pgtls_audit.rule_for('$user', '$db', '$addr')");
	my $line = attempt(%$opts);
	is($answer, $line->{rule_line} // 'none',
		"rule_for($user, $db, $addr) agrees with a real connection");
}
is( $node->safe_psql(
		'postgres',
		q{SELECT rule_line, mode, min_cipher_bits, min_protocol_version, cert_issuer
		    FROM pgtls_audit.rule_for('bob', 'postgres', '127.0.0.1')}),
	'1|enforce|512|TLSv1.2|', 'rule_for: the rule\'s settings over the GUCs');
is( $node->safe_psql(
		'postgres',
		q{SELECT rule_line, mode, min_cipher_bits, cert_issuer
		    FROM pgtls_audit.rule_for('alice', 'postgres', '127.0.0.1')}),
	'3|audit|128|CN=Some CA', 'rule_for: cert_issuer, and the GUCs for the rest');
is( $node->safe_psql(
		'postgres',
		q{SELECT coalesce(rule_line::text, 'none'), mode, forbidden_auth_methods,
		         min_cert_rsa_bits, min_cert_ec_bits,
		         forbidden_cert_signature_algorithms
		    FROM pgtls_audit.rule_for('carol', 'postgres', '::1')}),
	'none|audit|trust, password, md5, ident|2048|256|md5, sha1',
	'rule_for: no rule, the GUCs alone');
is( $node->safe_psql(
		'postgres',
		q{SELECT rule_line, mode FROM pgtls_audit.rule_for('carol', 'postgres')}),
	'4|off', 'rule_for: a NULL address is the Unix-domain socket');
$node->safe_psql('postgres', 'REVOKE payments FROM bob');
is( $node->safe_psql(
		'postgres',
		q{SELECT coalesce(rule_line::text, 'none') FROM pgtls_audit.rule_for('bob', 'postgres', '127.0.0.1')}),
	'none', 'rule_for: membership is read from the catalog now');
is(attempt(%{ $client{bob} })->{rule_line}, undef, 'and so is it for a real connection');
$node->safe_psql('postgres', 'GRANT payments TO bob');

#
# rule_line in history and connections; policy_violations judged by the
# rules in force now.
#
my $alice_line = attempt(%{ $client{alice} });
is( $node->safe_psql(
		'postgres',
		"SELECT rule_line, current_rule_line, violations FROM pgtls_audit.history WHERE event_id IS NOT NULL AND pid = $alice_line->{pid}"
	),
	'3|3|{cert_identity}',
	'history: rule_line and current_rule_line');

my $session = PgtlsAuditTest::background_session($node,
	PgtlsAuditTest::tls_connstr($node, $pki, %{ $client{carol} }));
my $pid = $session->query('SELECT pg_backend_pid()');
is( $node->safe_psql(
		'postgres',
		"SELECT coalesce(rule_line::text, 'none'), current_violations FROM pgtls_audit.connections WHERE pid = $pid"
	),
	'none|{}',
	'connections: no rule, no violation');
is($node->safe_psql('postgres',
		"SELECT count(*) FROM pgtls_audit.policy_violations WHERE pid = $pid"),
	'0', 'policy_violations: not yet');
use_rules(<<'EOF');
all  carol  all  min_cipher_bits=512
EOF
is( $node->safe_psql(
		'postgres',
		"SELECT rule_line, coalesce(rule_line_at_connect::text, 'none'), violations, violations_at_connect FROM pgtls_audit.policy_violations WHERE pid = $pid"
	),
	'1|none|{cipher_bits}|{}',
	'policy_violations: judged by the rule in force now');
$session->quit;

#
# The upgrade from 1.0.0 keeps the old columns and adds the new ones.
#
$node->safe_psql('postgres', 'CREATE DATABASE old');
$node->safe_psql('old', q{CREATE EXTENSION pgtls_audit VERSION '1.0.0'});
is($node->safe_psql('old',
		q{SELECT count(*) FROM pg_attribute WHERE attrelid = 'pgtls_audit.history'::regclass AND attnum > 0}),
	'40', '1.0.0: history has 40 columns');
ok($node->safe_psql('old', 'SELECT count(*) > 0 FROM pgtls_audit.history'),
	'1.0.0: history reads with the new library');
$node->safe_psql('old', 'ALTER EXTENSION pgtls_audit UPDATE');
is( $node->safe_psql(
		'old',
		"SELECT count(*) > 0, count(rule_line) > 0 FROM pgtls_audit.history WHERE user_name = 'alice'"
	),
	't|t',
	'1.1.0 after the upgrade: history carries rule_line');

#
# From audit to enforce: the recipe of README.md turns the history into
# exception rules, and enforcing with them keeps those clients in while a
# new violating client is refused.
#
use_rules("all all all\n", mode => 'audit', min_protocol_version => 'TLSv1.3');
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
attempt(%{ $client{legacy} }, max_protocol => 'TLSv1.2');
attempt(%{ $client{legacy} }, max_protocol => 'TLSv1.2', ipv6 => 1);
attempt(%{ $client{alice} });
my $recipe = <<'EOF';
SELECT format('all  "%s"  %s  mode=audit  # %s attempt(s) violating %s',
              replace(h.user_name, '"', '""'),
              CASE WHEN h.client_addr IS NULL THEN 'local'
                   WHEN family(h.client_addr) = 4 THEN host(h.client_addr) || '/32'
                   ELSE host(h.client_addr) || '/128' END,
              count(DISTINCT h.event_id),
              string_agg(DISTINCT v.violation, ','))
  FROM pgtls_audit.history h
 CROSS JOIN LATERAL unnest(h.current_violations) AS v(violation)
 WHERE h.outcome IN ('accepted', 'rejected')
 GROUP BY h.user_name, h.client_addr
 ORDER BY h.user_name, h.client_addr
EOF
my $candidates = $node->safe_psql('postgres', $recipe);
is( $candidates,
	qq{all  "legacy"  127.0.0.1/32  mode=audit  # 1 attempt(s) violating protocol
all  "legacy"  ::1/128  mode=audit  # 1 attempt(s) violating protocol},
	'the recipe proposes one exception rule per client that would be refused');
use_rules("$candidates\n", mode => 'enforce');
is(attempt(%{ $client{legacy} }, max_protocol => 'TLSv1.2')->{outcome},
	'accepted', 'enforce with the exceptions: the legacy client stays in');
is(attempt(%{ $client{bob} }, max_protocol => 'TLSv1.2')->{outcome},
	'rejected', 'enforce with the exceptions: a new weak client is refused');

$node->stop;
done_testing();
