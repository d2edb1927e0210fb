# Copyright (c) pgtls_audit contributors

# Monitoring with Prometheus, with the real tools: Debian's
# prometheus-postgres-exporter runs monitoring/queries.yaml against a node
# with pgtls_audit, after real TLS, plaintext and failed connections; its
# /metrics, scraped over HTTP on 127.0.0.1, must carry every series with the
# value the views give, and the types the queries declare.  The alerting
# rules pass promtool check rules and their unit tests (promtool test
# rules), and name only metrics the exporter really exposes; so does the
# Grafana dashboard, whose queries promtool checks as PromQL.

use strict;
use warnings;

use File::Basename qw(dirname);
use HTTP::Tiny;
use IPC::Run;
use JSON::PP;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use PgtlsAuditTest;

my $srcdir = dirname(dirname(__FILE__));
my $queries = "$srcdir/monitoring/queries.yaml";
my $alerts = "$srcdir/monitoring/alerts.yml";
my $alerts_test = "$srcdir/monitoring/alerts_test.yml";
my $dashboard = "$srcdir/monitoring/grafana-dashboard.json";

my $exporter = '/usr/bin/prometheus-postgres-exporter';
my $promtool = '/usr/bin/promtool';
foreach my $tool ($exporter, $promtool)
{
	# Installed by scripts/common.sh (packages prometheus-postgres-exporter
	# and prometheus): a missing tool is a failure, not a skip.
	BAIL_OUT("$tool is not installed") unless -x $tool;
}

# The rules, before any server.
my ($stdout, $stderr);
my $ok = IPC::Run::run([ $promtool, 'check', 'rules', $alerts ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'promtool check rules') or diag("$stdout$stderr");
like($stdout, qr/SUCCESS: 6 rules found/, 'six alerting rules');
$ok = IPC::Run::run([ $promtool, 'test', 'rules', $alerts_test ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, 'promtool test rules: every alert fires where it should, only there')
  or diag("$stdout$stderr");

my %alert_tested;
open my $fh, '<', $alerts_test or die "$alerts_test: $!";
while (<$fh>)
{
	$alert_tested{$1} = 1 if /alertname:\s*(\w+)/;
}
close $fh;
my (@alert_names, %alert_metrics);
open $fh, '<', $alerts or die "$alerts: $!";
while (<$fh>)
{
	push @alert_names, $1 if /^\s*- alert:\s*(\w+)/;
	next unless /^\s*expr:/;
	$alert_metrics{$1} = 1 while /\b(pgtls_audit_\w+)/g;
}
close $fh;
is(scalar(grep { !$alert_tested{$_} } @alert_names),
	0, 'every alert has a unit test: ' . join(', ', @alert_names));

# The Grafana dashboard's queries are valid PromQL: promtool checks them as
# recording rules.  The metrics they name are checked against the exporter
# below.
my $panels = decode_json(slurp_file($dashboard))->{panels};
my (@dashboard_exprs, %dashboard_metrics);
foreach my $panel (@$panels)
{
	foreach my $target (@{ $panel->{targets} })
	{
		(my $expr = $target->{expr}) =~ s/\$instance/.*/g;
		push @dashboard_exprs, $expr;
		$dashboard_metrics{$1} = 1 while $expr =~ /\b(pgtls_audit_\w+)/g;
	}
}
my $rules = PostgreSQL::Test::Utils::tempdir() . '/dashboard_rules.yml';
open $fh, '>', $rules or die "$rules: $!";
print $fh "groups:\n  - name: dashboard\n    rules:\n";
printf $fh "      - record: dashboard_query_%d\n        expr: %s\n", $_,
  JSON::PP->new->encode([ $dashboard_exprs[$_] ]) =~ s/^\[|\]$//gr
  foreach 0 .. $#dashboard_exprs;
close $fh;
$ok = IPC::Run::run([ $promtool, 'check', 'rules', $rules ],
	'>', \$stdout, '2>', \$stderr);
ok($ok, scalar(@dashboard_exprs) . ' queries of the Grafana dashboard are valid PromQL')
  or diag("$stdout$stderr");

# A server whose history and summary fill up: 10 is the least of each.
my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('prometheus', $pki,
	conf => "pgtls_audit.history_size = 10\npgtls_audit.max_aggregates = 10\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
my @roles = map { "role$_" } 1 .. 14;
PgtlsAuditTest::create_roles($node, 'alice', 'bob', @roles);
$node->safe_psql('postgres',
	'CREATE ROLE exporter LOGIN; GRANT pg_monitor TO exporter;');
my $client = PgtlsAuditTest::make_client_cert($pki, 'certuser',
	'/O=pgtls_audit test/CN=certuser');

sub attempt
{
	my (%opts) = @_;
	my ($ret) = $node->psql('postgres', 'SELECT 1',
		connstr => PgtlsAuditTest::tls_connstr($node, $pki, %opts));
	return $ret;
}

# Distinct roles fill the summary past max_aggregates (evictions) and the
# history past history_size (overwrites).
is(attempt(user => $_, password => "$_-secret"), 0, "TLS login as $_")
  foreach @roles;
# Counted last, so that these rows are the newest of the summary.
is(attempt(user => 'alice', password => 'alice-secret'), 0, "alice over TLSv1.3 #$_")
  foreach 1 .. 3;
isnt(attempt(user => 'bob', password => 'wrong'), 0, "bob's wrong password #$_")
  foreach 1 .. 2;
is( attempt(
		user => 'alice',
		password => 'alice-secret',
		max_protocol => 'TLSv1.2'),
	0,
	'alice over TLSv1.2');

# Live sessions: plaintext TCP breaks the default policy (require_ssl), a
# client certificate is in use.
my $plain = PgtlsAuditTest::background_session($node,
	PgtlsAuditTest::tls_connstr($node, $pki,
		user => 'alice', password => 'alice-secret', sslmode => 'disable'));
is($plain->query('SELECT 1'), '1', 'a live plaintext session');
my $certified = PgtlsAuditTest::background_session($node,
	PgtlsAuditTest::tls_connstr($node, $pki, user => 'certuser', cert => $client));
is($certified->query('SELECT 1'), '1', 'a live session with a client certificate');

# The exporter, as Debian ships it, on a free port of 127.0.0.1.
my $port = PostgreSQL::Test::Cluster::get_free_port();
my ($exp_out, $exp_err) = ('', '');
my $dsn = 'host=' . $node->host . ' port=' . $node->port
  . ' user=exporter dbname=postgres sslmode=disable';
my $run = IPC::Run::start(
	[
		$exporter, "--web.listen-address=127.0.0.1:$port",
		"--extend.query-path=$queries", '--log.level=warn'
	],
	'<', \undef, '>', \$exp_out, '2>', \$exp_err,
	init => sub { $ENV{DATA_SOURCE_NAME} = $dsn; });

my $http = HTTP::Tiny->new(timeout => 30);
my $response;
foreach my $try (1 .. 300)
{
	$response = $http->get("http://127.0.0.1:$port/metrics");
	last if $response->{success} && $response->{content} =~ /^pg_up 1$/m;
	usleep(100_000);
}
ok($response->{success}, "GET http://127.0.0.1:$port/metrics")
  or diag("$response->{status} $response->{reason}; exporter: $exp_err");

# What the views say, in one session whose own attempt comes before its
# query, then a scrape: the exporter keeps its connection, so nothing is
# recorded in between and the values must be equal.
my $snapshot = $node->safe_psql(
	'postgres', q{
SELECT 'attempts|' || coalesce(user_name, '') || '|'
	   || coalesce(database_name, '') || '|'
	   || coalesce(tls_version, 'none') || '|' || outcome || '|' || sum(count)
  FROM pgtls_audit.summary
 GROUP BY user_name, database_name, tls_version, outcome
UNION ALL
SELECT 'server|' || subject || '|' || days_left || '|'
	   || extract(epoch FROM not_after)
  FROM pgtls_audit.server_certificate
UNION ALL
SELECT 'client|' || min(cert_days_left)
  FROM pgtls_audit.connections WHERE client_cert
UNION ALL
SELECT 'status|' || events_overwritten || '|' || aggregates_evicted || '|'
	   || history_size || '|' || events_total
  FROM pgtls_audit.status});
$response = $http->get("http://127.0.0.1:$port/metrics");
my %samples = parse_metrics($response->{content});
my %types = $response->{content} =~ /^# TYPE (\S+) (\S+)$/mg;
my (@sql_attempts, %sql);
foreach my $line (split /\n/, $snapshot)
{
	my ($kind, @fields) = split /\|/, $line;
	if ($kind eq 'attempts') { push @sql_attempts, \@fields; }
	else { $sql{$kind} = \@fields; }
}

# Samples of the text format by name, then by their labels (but the
# exporter's own "server") as "name=value,..." in name order.
sub parse_metrics
{
	my ($content) = @_;
	my %found;
	foreach my $line (split /\n/, $content)
	{
		next unless $line =~ /^(\w+)(\{.*\})? (\S+)$/;
		my ($name, $labels, $value) = ($1, $2 // '', $3);
		my %labels;
		$labels{$1} = $2 while $labels =~ /(\w+)="((?:[^"\\]|\\.)*)"/g;
		delete $labels{server};
		$found{$name}{ join(',', map { "$_=$labels{$_}" } sort keys %labels) } =
		  $value;
	}
	return %found;
}

is($samples{pg_up}{''}, 1, 'pg_up 1');
is($samples{pg_exporter_last_scrape_error}{''},
	0, 'no query of the scrape failed')
  or diag($exp_err);
my @load_errors = values %{ $samples{pg_exporter_user_queries_load_error} // {} };
ok(@load_errors && !grep({ $_ != 0 } @load_errors), 'the queries file loaded')
  or diag(explain($samples{pg_exporter_user_queries_load_error}));

sub sample
{
	my ($name, %labels) = @_;
	my $key = join(',', map { "$_=$labels{$_}" } sort keys %labels);
	return $samples{$name}{$key};
}

# Types as the queries declare them.
my %expected_types = (
	pgtls_audit_attempts_total => 'counter',
	pgtls_audit_violating_sessions => 'gauge',
	pgtls_audit_sessions_live => 'gauge',
	pgtls_audit_sessions_violating => 'gauge',
	pgtls_audit_server_certificate_days_left => 'gauge',
	pgtls_audit_server_certificate_not_after_seconds => 'gauge',
	pgtls_audit_client_certificates_min_days_left => 'gauge',
	pgtls_audit_client_certificates_min_not_after_seconds => 'gauge',
	pgtls_audit_store_history_size => 'gauge',
	pgtls_audit_store_events_total => 'counter',
	pgtls_audit_store_events_overwritten_total => 'counter',
	pgtls_audit_store_max_aggregates => 'gauge',
	pgtls_audit_store_aggregates => 'gauge',
	pgtls_audit_store_aggregates_evicted_total => 'counter');
foreach my $name (sort keys %expected_types)
{
	is($types{$name}, $expected_types{$name}, "$name is a $expected_types{$name}");
	ok(scalar(keys %{ $samples{$name} // {} }) > 0, "$name has samples");
}
foreach my $name (sort keys %alert_metrics)
{
	ok(exists $samples{$name}, "alerts.yml's $name is exposed by the exporter");
}
foreach my $name (sort keys %dashboard_metrics)
{
	ok(exists $samples{$name}, "the dashboard's $name is exposed by the exporter");
}

# Values.
my $tls13 = sample('pgtls_audit_attempts_total',
	role => 'alice', database => 'postgres', protocol => 'TLSv1.3',
	outcome => 'accepted');
is($tls13, 3, 'alice: 3 accepted TLSv1.3 attempts');
is( sample(
		'pgtls_audit_attempts_total',
		role => 'alice',
		database => 'postgres',
		protocol => 'TLSv1.2',
		outcome => 'accepted'),
	1,
	'alice: 1 accepted TLSv1.2 attempt');
is( sample(
		'pgtls_audit_attempts_total',
		role => 'bob',
		database => 'postgres',
		protocol => 'TLSv1.3',
		outcome => 'auth_failed'),
	2,
	'bob: 2 failed attempts');
is( sample(
		'pgtls_audit_attempts_total',
		role => 'alice',
		database => 'postgres',
		protocol => 'none',
		outcome => 'accepted'),
	1,
	'alice: 1 plaintext attempt');

my $mismatches = 0;
foreach my $row (@sql_attempts)
{
	my ($role, $database, $protocol, $outcome, $count) = @$row;
	my $got = sample('pgtls_audit_attempts_total',
		role => $role, database => $database, protocol => $protocol,
		outcome => $outcome);
	$mismatches++, diag("@$row: scraped " . ($got // 'nothing'))
	  unless defined $got && $got == $count;
}
is($mismatches, 0,
	'each of the ' . scalar(@sql_attempts) . ' rows of the summary is a series with its count');
is(scalar(keys %{ $samples{pgtls_audit_attempts_total} }),
	scalar(@sql_attempts), 'and there is no other series');

is(sample('pgtls_audit_violating_sessions', violation => 'no_encryption'),
	1, 'one live session violates the policy: no_encryption');
is(sample('pgtls_audit_sessions_violating'), 1, 'one violating session');
cmp_ok(sample('pgtls_audit_sessions_live'), '>=', 2, 'live sessions');

my ($subject, $days_left, $not_after) = @{ $sql{server} };
cmp_ok(sample('pgtls_audit_server_certificate_days_left', subject => $subject),
	'==', $days_left, "server certificate ($subject): $days_left days left");
cmp_ok($days_left, '>', 14, 'the test certificate does not fire the alert');
cmp_ok(
	sample('pgtls_audit_server_certificate_not_after_seconds',
		subject => $subject),
	'==', $not_after,
	'server certificate: expiry in seconds since the epoch');

my ($client_days) = @{ $sql{client} };
cmp_ok(sample('pgtls_audit_client_certificates_min_days_left'),
	'==', $client_days, "client certificate in use: $client_days days left");

my ($overwritten, $evicted, $history_size, $events) = @{ $sql{status} };
cmp_ok($overwritten, '>', 0, "the history overwrote $overwritten attempts");
cmp_ok($evicted, '>', 0, "the summary evicted $evicted rows");
cmp_ok(sample('pgtls_audit_store_events_overwritten_total'),
	'==', $overwritten, 'overwritten attempts');
cmp_ok(sample('pgtls_audit_store_aggregates_evicted_total'),
	'==', $evicted, 'evicted rows');
cmp_ok(sample('pgtls_audit_store_events_total'), '==', $events, 'attempts');
cmp_ok(sample('pgtls_audit_store_history_size'), '==', $history_size, 'history size');

# A second scrape sees the counters move, not restart.
is(attempt(user => 'alice', password => 'alice-secret'), 0, 'one more TLS login');
%samples = parse_metrics($http->get("http://127.0.0.1:$port/metrics")->{content});
is( sample(
		'pgtls_audit_attempts_total',
		role => 'alice',
		database => 'postgres',
		protocol => 'TLSv1.3',
		outcome => 'accepted'),
	$tls13 + 1,
	'the counter rose by one between two scrapes');

$run->kill_kill;
$plain->quit;
$certified->quit;
$node->stop;
done_testing();
