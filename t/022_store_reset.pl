
# Copyright (c) pgtls_audit contributors

# reset() racing the views and a storm of connections: no scan shows a row
# from before an earlier reset, status never shows a negative or impossible
# count, and nothing errors.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $seconds = 5;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('reset', $pki,
	conf => "pgtls_audit.history_size = 200\nmax_connections = 40\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
$node->safe_psql('postgres', 'SELECT 1') foreach 1 .. 5;

my $before = $node->safe_psql('postgres',
	'SELECT max(event_id) FROM pgtls_audit.history');
$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');

# Each script fails its transaction (division by zero) on a violation.
my %scripts = (
	history => qq{SELECT CASE WHEN count(*) > 0 THEN 1 / (random() * 0)::int END
  FROM pgtls_audit.history WHERE event_id <= $before;
},
	status => q{SELECT CASE WHEN events_total < 0 OR events_overwritten < 0
                   OR events_retained > history_size
                   OR events_total <> events_retained + events_overwritten
                   OR aggregates < 0 OR aggregates > max_aggregates
                 THEN 1 / (random() * 0)::int END
  FROM pgtls_audit.status;
},
	summary => q{SELECT CASE WHEN count(*) FILTER (WHERE count <= 0) > 0 THEN 1 / (random() * 0)::int END
  FROM pgtls_audit.summary;
},
	reset => "SELECT pgtls_audit.reset();\n",
	connect => "SELECT 1;\n");
my @runs;
foreach my $name (sort keys %scripts)
{
	my $file = $node->basedir . "/$name.sql";
	PostgreSQL::Test::Utils::append_to_file($file, $scripts{$name});
	my ($out, $err) = ('', '');
	my @command = (
		'pgbench', '-n', '-T', $seconds, '-f', $file,
		$name eq 'connect' ? ('-C', '-c', 4) : ('-c', 1),
		$node->connstr('postgres'));
	push @runs,
	  [ $name, IPC::Run::start(\@command, '>', \$out, '2>', \$err), \$out,
		\$err ];
}
foreach my $run (@runs)
{
	my ($name, $handle, $out, $err) = @$run;
	my $ok = $handle->finish;
	my ($done) = $$out =~ /number of transactions actually processed: (\d+)/;
	ok($ok && $$err !~ /division by zero|ERROR/,
		"$name during resets: " . ($done // 0) . ' transactions, no violation')
	  or diag($$err);
}

is( $node->safe_psql(
		'postgres', "SELECT count(*) FROM pgtls_audit.history WHERE event_id <= $before"),
	'0',
	'no row from before the first reset');

$node->stop;
done_testing();
