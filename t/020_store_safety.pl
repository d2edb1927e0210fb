
# Copyright (c) pgtls_audit contributors

# No unauthenticated client can hang or crash the server through the store.
# Raw clients send startup packets that PostgreSQL refuses (FATAL in
# ProcessStartupPacket, recorded by pgtls_audit before the backend has a
# PGPROC), each with a new user name, while the startup-packet timeout
# (authentication_timeout = 1s) fires and another process sends SIGTERM to
# backends still reading their startup packet: both leave with _exit(1),
# which the postmaster takes for a clean exit.  Afterwards a login must
# complete at once, the log must hold no PANIC and the store must agree
# with itself.

use strict;
use warnings;

use IPC::Run;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use POSIX ();
use Test::More;
use Time::HiRes qw(time usleep);

use PgtlsAuditTest;

my $seconds = 20;
my $fast_clients = 4;
my $slow_clients = 16;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('safety', $pki,
	conf => "authentication_timeout = 1s\nmax_connections = 50\n"
	  . "pgtls_audit.max_aggregates = 1000\n");
$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
my $port = $node->port;
my $postmaster = (split /\n/,
	PostgreSQL::Test::Utils::slurp_file($node->data_dir . '/postmaster.pid'))[0];

# Backends of the postmaster that have not read their startup packet yet
# still carry the postmaster's command line.
sub startup_backends
{
	my @pids;
	opendir my $proc, '/proc' or return ();
	foreach my $pid (grep { /^\d+$/ } readdir $proc)
	{
		open my $stat, '<', "/proc/$pid/stat" or next;
		my $line = <$stat> // '';
		close $stat;
		next unless $line =~ /^\d+ \(.*\) \S (\d+) / && $1 == $postmaster;
		open my $cmd, '<', "/proc/$pid/cmdline" or next;
		my $cmdline = <$cmd> // '';
		close $cmd;
		push @pids, $pid unless $cmdline =~ /^postgres:/;
	}
	closedir $proc;
	return @pids;
}

sub worker
{
	my ($code) = @_;
	my $pid = fork();
	die "fork failed: $!" unless defined $pid;
	return $pid if $pid;
	srand($$ ^ time());
	$code->();
	POSIX::_exit(0);
}

my $deadline = time() + $seconds;
my @workers;
# fast clients: a new name every time, refused at once
foreach my $n (1 .. $fast_clients)
{
	push @workers, worker(
		sub {
			my $i = 0;
			PgtlsAuditTest::refused_startup_packet($port,
				sprintf('flood_%d_%d_%d', $$, $n, $i++))
			  while time() < $deadline;
		});
}
# slow clients: send their packet when the 1 s timeout fires
foreach my $n (1 .. $slow_clients)
{
	push @workers, worker(
		sub {
			my $i = 0;
			PgtlsAuditTest::refused_startup_packet($port,
				sprintf('slow_%d_%d_%d', $$, $n, $i++),
				990_000 + int(rand(20_000)))
			  while time() < $deadline;
		});
}
# and SIGTERM for backends still in their startup
my $signals = 0;
push @workers, worker(
	sub {
		while (time() < $deadline)
		{
			kill 'TERM', startup_backends();
			usleep(200);
		}
	});
waitpid($_, 0) foreach @workers;
pass("$seconds s of refused attempts racing timeouts and SIGTERM");

# A login must complete at once: a lock orphaned by an _exit would make it
# spin until "stuck spinlock" and a PANIC.
my $started = time();
my ($out, $err) = ('', '');
my $ok = eval {
	IPC::Run::run(
		[ $node->installed_command('psql'), '-XAtq', '-d',
		  $node->connstr('postgres'), '-c', 'SELECT 1' ],
		'>', \$out, '2>', \$err, IPC::Run::timeout(30));
};
my $elapsed = time() - $started;
ok($ok && $out eq "1\n", 'a login succeeds after the flood');
cmp_ok($elapsed, '<', 1, sprintf('the login took %.3f s', $elapsed));
BAIL_OUT('the server hangs: every login waits on an orphaned lock')
  unless $ok;

my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile);
unlike($log, qr/PANIC|stuck spinlock|terminated by signal/,
	'no PANIC, stuck spinlock or crashed backend in the log');

# The store agrees with itself.
my ($total, $retained, $overwritten, $rows, $flood_rows) = split /\|/,
  $node->safe_psql(
	'postgres', q{
SELECT s.events_total, s.events_retained, s.events_overwritten,
       (SELECT count(*) FROM pgtls_audit.history),
       (SELECT count(*) FROM pgtls_audit.history
         WHERE user_name ~ '^(flood|slow)_' AND outcome = 'refused')
  FROM pgtls_audit.status s});
cmp_ok($total, '>', 100, "$total attempts recorded");
is($total, $retained + $overwritten,
	'events_total = events_retained + events_overwritten');
is($rows, $retained, 'history holds events_retained rows');
cmp_ok($flood_rows, '>', 0, 'the refused attempts are in the history');

# A fast shutdown while clients keep connecting completes promptly and
# cleanly, and saves a store the next start loads.
my $script = $node->basedir . '/select1.sql';
PostgreSQL::Test::Utils::append_to_file($script, "SELECT 1;\n");
my ($bench_out, $bench_err) = ('', '');
my $storm = IPC::Run::start(
	[ 'pgbench', '-n', '-C', '-c', 8, '-T', 30, '-f', $script,
	  $node->connstr('postgres') ],
	'>', \$bench_out, '2>', \$bench_err);
usleep(1_000_000);
my $offset = -s $node->logfile;
$started = time();
$node->stop('fast');
my $stopping = time() - $started;
$storm->finish;
cmp_ok($stopping, '<', 10,
	sprintf('a fast shutdown during a storm took %.1f s', $stopping));
ok($node->log_contains('database system is shut down', $offset),
	'the shutdown was clean');
$node->start;
cmp_ok(
	$node->safe_psql('postgres', 'SELECT count(*) FROM pgtls_audit.history'),
	'>', 1, 'the store saved at that shutdown is loaded');

$node->stop('fast');
done_testing();
