# Copyright (c) pgtls_audit contributors

# The benchmark behind bench/run: what pgtls_audit adds to the cost of one
# new connection, against the same cluster without it.
#
# One cluster, restarted into each configuration in turn, several rounds:
#
#   (a) pgtls_audit not loaded (the baseline of every ratio)
#   (b) loaded, pgtls_audit.mode = audit
#   (c) loaded, pgtls_audit.mode = enforce with every policy knob on
#   (d) not loaded, PostgreSQL's own log_connections = on (the reference)
#   (e) as (c), with a rules file of 1,000 rules that the connection walks
#       through without a match (the GUCs judge it): the worst case of
#       first-match rules
#
# and two workloads: a new TLS connection authenticated by client
# certificate (hba "cert", so that (c) accepts it), and a plaintext TCP
# connection (hba "trust", the cheapest connection there is, so the
# extension's share is largest) that (c) rejects by design.  Each
# connection runs one trivial query: "SELECT pg_backend_pid()" through psql
# under callgrind, "SELECT 1" through pgbench otherwise.
#
# Three figures per configuration and workload:
#
# * instructions executed by the backend for one connection, counted by
#   callgrind with the postmaster running under valgrind: the only figure
#   precise enough to show a 1% difference.  The extension's own part (the
#   hook's inclusive count) repeats to a few instructions; a whole
#   plaintext connection to 0.01%, a whole TLS connection only to about
#   1.5% (random key shares, RSA blinding), hence medians of many;
# * server CPU time per connection and connections per second under
#   "pgbench -C", without valgrind: realistic, but they vary by several
#   per cent between runs on a shared machine.
#
# Each measure_* function is one self-contained section filling %results;
# report() prints whatever was measured.  A later section (e.g. the cost of
# the SQL views) is one more function called from the main program.

use strict;
use warnings;

use FindBin;
use lib "$FindBin::RealBin/../t";

use File::Path qw(make_path);
use Getopt::Long;
use IPC::Run;
use List::Util qw(sum);
use POSIX qw(strftime);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use PgtlsAuditTest;
use Test::More;
use Time::HiRes qw(usleep);

# PostgreSQL::Test::Utils sends STDOUT to its log file; progress goes to
# Test::More's output handle, which still reaches the terminal.
my $out = Test::More->builder->output;

my %opt = (
	rounds                => 7,    # rounds of the pgbench section
	seconds               => 5,    # length of one pgbench run
	callgrind_rounds      => 3,    # rounds of the callgrind section
	callgrind_connections => 11,   # measured per round, after a cold one
	view_events           => 100_000,    # history size for the view section
	view_sessions         => 300,        # live sessions for the view section
	view_runs             => 7,          # timed runs of each view query
	flood_tables => [ 1000, 100_000 ],    # max_aggregates of the flood section
	flood_factor => [ 10,   2 ],    # distinct names per table row, for each
	flood_batches => 10,            # batches timed in a flood
	flood_logins  => 200,           # legitimate TLS logins timed in a flood
	flood_rounds  => 3,             # of those, for new and for one name
	flood_profiles => 5,            # refused attempts counted by callgrind
	results               => undef);
GetOptions(
	'quick' => sub {
		@opt{
			qw(rounds seconds callgrind_rounds callgrind_connections
			  view_events view_sessions)
		} = (2, 1, 1, 3, 5000, 50);
		@opt{qw(flood_tables flood_factor flood_logins flood_rounds)} =
		  ([1000], [3], 50, 1);
	},
	'flood-factor=s' => sub {
		# distinct names per table row, one per flood table: "10,10"
		$opt{flood_factor} = [ split /,/, $_[1] ];
	},
	'only=s'    => \$opt{only},
	'results=s' => \$opt{results})
  or die "usage: bench.pl [--quick] [--only SECTION] [--flood-factor N,N] "
  . "[--results FILE]\n";
die "--only takes instructions, throughput, views or flood\n"
  if defined $opt{only}
  && $opt{only} !~ /^(instructions|throughput|views|flood)$/;

my $library = $ENV{PGTLS_AUDIT_LIBRARY} // 'pgtls_audit';

# Every policy knob on, in enforce mode.
my $enforce_everything = <<'EOF';
pgtls_audit.mode = enforce
pgtls_audit.require_ssl = on
pgtls_audit.min_protocol_version = 'TLSv1.2'
pgtls_audit.min_cipher_bits = 128
pgtls_audit.ciphers = 'HIGH:!aNULL:!eNULL:!MD5:!RC4:!3DES'
pgtls_audit.require_forward_secrecy = on
pgtls_audit.require_client_cert = on
pgtls_audit.forbidden_auth_methods = 'trust, password, md5'
EOF

# "loaded": in shared_preload_libraries; "settings": the rest of bench.conf.
my @configurations = (
	{
		key      => 'a',
		name     => 'not loaded',
		loaded   => 0,
		settings => ''
	},
	{
		key      => 'b',
		name     => 'audit',
		loaded   => 1,
		settings => "pgtls_audit.mode = audit\n"
	},
	{
		key      => 'c',
		name     => 'enforce, all knobs',
		loaded   => 1,
		settings => $enforce_everything
	},
	{
		key      => 'd',
		name     => 'log_connections',
		loaded   => 0,
		settings => "log_connections = on\n"
	},
	{
		key      => 'e',
		name     => '(c) + 1,000 rules',
		loaded   => 1,
		settings => $enforce_everything
		  . "pgtls_audit.rules_file = 'bench_rules.conf'\n"
	});

# Settings common to all configurations: no other logging per connection
# or statement (PostgreSQL::Test::Cluster turns log_statement on), and no
# autovacuum worker starting in the middle of a measurement.
my $common_conf = <<'EOF';
log_connections = off
log_disconnections = off
log_statement = none
autovacuum = off
include_if_exists = 'bench.conf'
EOF

my $pki = PgtlsAuditTest::make_pki();
my $cert = PgtlsAuditTest::make_client_cert($pki, 'bench', '/CN=bench');
my $node = PgtlsAuditTest::tls_node(
	'bench', $pki,
	conf => $common_conf,
	hba  => "local all all trust\n"
	  . "hostssl all bench 127.0.0.1/32 cert\n"
	  . "hostnossl all bench 127.0.0.1/32 trust\n");
$node->safe_psql('postgres', 'CREATE ROLE bench LOGIN');
write_rules_file(1000);
my $bindir = $node->config_data('--bindir');

my @workloads = (
	{
		key     => 'tls',
		name    => 'new TLS connection, client certificate (hba cert)',
		connstr => PgtlsAuditTest::tls_connstr(
			$node, $pki,
			user => 'bench',
			cert => $cert)
	},
	{
		key     => 'plain',
		name    => 'new plaintext TCP connection (hba trust)',
		connstr => PgtlsAuditTest::tls_connstr(
			$node, $pki,
			user    => 'bench',
			sslmode => 'disable'),
		# require_ssl and the forbidden "trust" refuse it, as they should
		not_in => {
			c => 'rejected by the policy, as intended',
			e => 'rejected by the policy, as intended'
		}
	});

# $results{workload}{configuration}{figure} = [ samples ]
my %results;

my $started = time;
my $load_before = load_average();
foreach my $section (qw(instructions throughput views flood))
{
	next if defined $opt{only} && $opt{only} ne $section;
	{
		no strict 'refs';
		&{"measure_$section"}();
	}
}
report();
$node->stop;
progress(sprintf('done in %d s', time - $started));


#---- Instructions per connection (callgrind) ----

# Callgrind follows fork() (PostgreSQL's backends are forked, not exec'd)
# and writes one profile per process, named by pid.  A forked child
# inherits its parent's counters, though: without a reset each backend's
# total would include everything the postmaster executed since it started,
# configuration loading included.  --zero-before=InitPostmasterChild
# resets them in the first function every child runs after fork(), so a
# backend's profile holds exactly its own work: TLS handshake, startup,
# authentication, the query, exit.
sub measure_instructions
{
	foreach my $round (1 .. $opt{callgrind_rounds})
	{
		foreach my $config (@configurations)
		{
			progress("callgrind round $round/$opt{callgrind_rounds}: "
				  . "($config->{key}) $config->{name}");
			my $dir =
			  $PostgreSQL::Test::Utils::tmp_check
			  . "/callgrind/$config->{key}-$round";
			make_path($dir);
			$node->stop;
			write_configuration($config);
			start_under_callgrind($dir);

			my %pids;
			foreach my $workload (applicable_workloads($config))
			{
				# The first connection after a start is cold (it rebuilds
				# the relation cache init file, among others): drop it.
				backend_pid($workload);
				$pids{ $workload->{key} } =
				  [ map { backend_pid($workload) }
					  1 .. $opt{callgrind_connections} ];
			}

			# A fast shutdown waits for every backend to exit, and a
			# backend writes its profile before it exits.
			$node->stop;

			while (my ($workload, $pids) = each %pids)
			{
				my $samples = $results{$workload}{ $config->{key} } //= {};
				foreach my $pid (@$pids)
				{
					my $profile = "$dir/callgrind.out.$pid";
					push @{ $samples->{instructions} },
					  profile_total($profile);
					push @{ $samples->{hook} }, hook_instructions($profile)
					  if $config->{loaded};
				}
				$samples->{profile} //= "$dir/callgrind.out.$pids->[0]";
			}
		}
	}
	$node->start;
	return;
}

# Start the node's postmaster under callgrind, through pg_ctl's -p (the
# postgres executable to run), so that pg_ctl -w waits for it as usual.
sub start_under_callgrind
{
	my ($dir) = @_;
	my $wrapper = "$dir/postgres";
	PostgreSQL::Test::Utils::append_to_file(
		$wrapper, qq{#!/bin/sh
exec valgrind --quiet --tool=callgrind --zero-before=InitPostmasterChild \\
	--callgrind-out-file='$dir/callgrind.out.%p' '$bindir/postgres' "\$@"
});
	chmod 0755, $wrapper;
	PostgreSQL::Test::Utils::system_or_bail('pg_ctl', '-w', '-D',
		$node->data_dir, '-l', $node->logfile, '-p', $wrapper, 'start');

	# Let the node object know the postmaster's pid, so that $node->stop,
	# and the cleanup at exit, work as after $node->start.
	$node->_update_pid(1);
	return;
}

# Connect once with the workload's connection string; the backend's pid.
sub backend_pid
{
	my ($workload) = @_;
	return $node->safe_psql('postgres', 'SELECT pg_backend_pid()',
		connstr => $workload->{connstr});
}

# The instructions in one callgrind profile: its "summary:" line, the
# process's counter since the reset, which is also what callgrind_annotate
# calls the program total.  Not its "totals:" line: that also holds part of
# the postmaster's work before the fork (the calls still open when the
# counters were reset), which grows with every connection the postmaster
# has accepted and with its configuration.
sub profile_total
{
	my ($profile) = @_;
	open my $fh, '<', $profile or die "could not open \"$profile\": $!";
	while (<$fh>)
	{
		return $1 if /^summary:\s+(\d+)/;
	}
	die "no summary in \"$profile\"";
}

# The call tree of pgtls_audit.so's functions in a profile, from
# callgrind_annotate: { function => { total => inclusive instructions,
# callees => [ [ function, inclusive instructions ], ... ] } }.  In a
# backend, the extension runs only from its entry points below: the
# authentication hook, the transaction callback that records an accepted
# attempt once the start-up transaction commits (and is a one-test fast
# path at every later commit), the emit_log_hook (on every message, a
# one-test fast path outside connection startup) and the exit callback
# that clears the session's slot; their sum is its whole cost.
sub extension_call_tree
{
	my ($profile) = @_;
	my ($stdout, $stderr);
	IPC::Run::run [
		'callgrind_annotate', '--inclusive=yes',
		'--tree=calling',     '--threshold=100',
		$profile
	  ],
	  '>', \$stdout, '2>', \$stderr
	  or die "callgrind_annotate $profile failed: $stderr";

	# "  75,990 ( 0.35%)  *  /src/capture.c:capture_attempt [/x/pgtls_audit.so]"
	# starts a function's block; "  >  " lines under it are its callees.
	my $cost = qr/^\s*([\d,]+) \(\s*[\d.]+%\)\s+/;
	my (%tree, $current);
	foreach my $line (split /\n/, $stdout)
	{
		if ($line =~ /$cost\*\s+\S*?:(\S+) \[(\S+)\]$/)
		{
			my ($count, $function, $object) = ($1, $2, $3);
			$current = $object =~ m{/pgtls_audit\.so$} ? $function : undef;
			$tree{$current}{total} = instructions($count) if defined $current;
		}
		elsif (defined $current && $line =~ /$cost>\s+\S*?:(\S+) \(\d+x\)/)
		{
			push @{ $tree{$current}{callees} }, [ $2, instructions($1) ];
		}
		else
		{
			$current = undef;
		}
	}
	return \%tree;
}

# (a sub, not a file-scope variable: the main program runs before the
# assignment of such a variable further down the file would)
sub entry_points
{
	return
	  qw(pgtls_audit_client_authentication settle_accepted_attempt
	  pgtls_audit_emit_log clear_my_slot);
}

sub hook_instructions
{
	my ($profile) = @_;
	my $tree = extension_call_tree($profile);
	die "pgtls_audit's hook did not run in \"$profile\""
	  unless $tree->{pgtls_audit_client_authentication};
	return sum(map { $tree->{$_}{total} // 0 } entry_points());
}

# "1,234" -> 1234
sub instructions
{
	my ($text) = @_;
	$text =~ tr/,//d;
	return $text;
}


#---- Server CPU and connections per second (pgbench -C) ----

# pgbench -C opens a new connection for every transaction of a trivial
# script.  Server CPU is read from the postmaster's /proc stat: its own
# time (accept, fork) plus the time of the children it has reaped, i.e.
# of every backend that has exited, divided by the connections made.
sub measure_throughput
{
	my $script = $PostgreSQL::Test::Utils::tmp_check . '/select1.sql';
	PostgreSQL::Test::Utils::append_to_file($script, "SELECT 1;\n");

	foreach my $round (1 .. $opt{rounds})
	{
		foreach my $config (@configurations)
		{
			progress("pgbench round $round/$opt{rounds}: "
				  . "($config->{key}) $config->{name}");
			write_configuration($config);
			$node->restart;
			my $postmaster = postmaster_pid();

			foreach my $workload (applicable_workloads($config))
			{
				# warm caches (relation cache init file, page cache)
				pgbench($workload, $script, '-t', 5);
				wait_for_backends_to_exit($postmaster);

				my $before = cpu_seconds($postmaster);
				my ($connections, $rate) =
				  pgbench($workload, $script, '-T', $opt{seconds});
				wait_for_backends_to_exit($postmaster);
				my $cpu = cpu_seconds($postmaster) - $before;

				my $samples = $results{ $workload->{key} }{ $config->{key} };
				push @{ $samples->{cpu_ms} },
				  1000 * $cpu / $connections;
				push @{ $samples->{rate} }, $rate;
			}
		}
	}
	return;
}

# Run pgbench -C with one client; the number of connections it made and
# its connections per second ("tps" with -C: one connection a transaction).
sub pgbench
{
	my ($workload, $script, @length) = @_;
	my ($stdout, $stderr);
	IPC::Run::run [
		'pgbench', '-n', '-C', '-c', '1', '-j', '1', @length,
		'-f', $script, $workload->{connstr}
	  ],
	  '>', \$stdout, '2>', \$stderr
	  or die "pgbench failed: $stderr";
	$stdout =~ /^number of transactions actually processed: (\d+)/m
	  or die "unexpected pgbench output: $stdout";
	my $transactions = $1;
	$stdout =~ /^tps = ([\d.]+) \(including reconnection times\)/m
	  or die "unexpected pgbench output: $stdout";
	# pgbench also opens one connection of its own before the run
	return ($transactions + 1, $1);
}

# utime + stime + cutime + cstime of a process, in seconds.
sub cpu_seconds
{
	my ($pid) = @_;
	my @fields = proc_stat($pid);
	return sum(@fields[ 11 .. 14 ]) / POSIX::sysconf(POSIX::_SC_CLK_TCK);
}

# /proc/<pid>/stat from field 3 (state) on: the command name in field 2
# may hold spaces.  Empty if the process is gone.
sub proc_stat
{
	my ($pid) = @_;
	open my $fh, '<', "/proc/$pid/stat" or return ();
	my $stat = <$fh>;
	close $fh;
	return split ' ', substr($stat, rindex($stat, ')') + 2);
}

# Wait until the postmaster has reaped every client backend, so that their
# CPU time is in its cutime and cstime: no child left that is a zombie or
# whose process title names a client address.
sub wait_for_backends_to_exit
{
	my ($postmaster) = @_;
	for (my $tries = 0;; $tries++)
	{
		my $busy = 0;
		foreach my $dir (glob '/proc/[0-9]*')
		{
			my $pid = substr($dir, 6);
			my ($state, $ppid) = proc_stat($pid);
			next unless defined $ppid && $ppid == $postmaster;
			open my $fh, '<', "$dir/cmdline" or next;
			my $title = <$fh> // '';
			$busy++ if $state eq 'Z' || $title =~ /\d\(\d+\)/;
		}
		return if $busy == 0;
		die "backends still running after 30 s" if $tries > 3000;
		usleep(10_000);
	}
}


#---- The cost of the SQL views ----

# Each view queried with a full history (view_events attempts) and
# view_sessions live sessions, with the extension loaded in audit mode.
# The server's own execution time (EXPLAIN ANALYZE, without per-node
# timing) is taken twice: in a backend's first query, which also maps the
# store's shared memory pages into that backend, and as the median of
# view_runs more queries in the same backend.
sub measure_views
{
	my %config = (
		key      => 'views',
		name     => 'views',
		loaded   => 1,
		settings => "pgtls_audit.mode = audit\n"
		  . "pgtls_audit.log_connections = off\n"
		  . "pgtls_audit.history_size = $opt{view_events}\n"
		  . "max_connections = "
		  . ($opt{view_sessions} + 50) . "\n");
	write_configuration(\%config);
	$node->restart;
	$node->safe_psql('postgres', 'CREATE EXTENSION IF NOT EXISTS pgtls_audit');

	# Fill the history with real connections, over the unix socket (the
	# cheapest there are); four clients keep both cores busy.
	progress("views: filling the history with $opt{view_events} attempts");
	my $script = $PostgreSQL::Test::Utils::tmp_check . '/select1.sql';
	PostgreSQL::Test::Utils::append_to_file($script, "SELECT 1;\n")
	  unless -f $script;
	my $per_client = int($opt{view_events} / 4) + 1;
	my ($stdout, $stderr);
	IPC::Run::run [
		'pgbench', '-n', '-C', '-c', 4, '-j', 2, '-t', $per_client,
		'-h', $node->host, '-p', $node->port, '-f', $script, 'postgres'
	  ],
	  '>', \$stdout, '2>', \$stderr
	  or die "pgbench failed: $stderr";

	# Hold the live sessions open while the views are queried.
	progress("views: $opt{view_sessions} live TLS sessions");
	my $sleep = $PostgreSQL::Test::Utils::tmp_check . '/sleep.sql';
	PostgreSQL::Test::Utils::append_to_file($sleep, "SELECT pg_sleep(600);\n")
	  unless -f $sleep;
	my $sessions = IPC::Run::start [
		'pgbench', '-n', '-c', $opt{view_sessions}, '-j', 2, '-t', 1,
		'-f', $sleep, $workloads[0]{connstr}
	  ],
	  '>', \$stdout, '2>', \$stderr;
	$node->poll_query_until('postgres',
		"SELECT count(*) >= $opt{view_sessions} FROM pg_stat_activity "
		  . "WHERE query = 'SELECT pg_sleep(600);'")
	  or die 'the live sessions did not all connect';

	my @status = split /\|/, $node->safe_psql('postgres',
		'SELECT events_retained, history_size FROM pgtls_audit.status');
	$results{views}{events} = $status[0];
	$results{views}{sessions} = $node->safe_psql('postgres',
		'SELECT count(*) FROM pgtls_audit.connections');

	foreach my $view (view_queries())
	{
		my ($name, $settings) = @$view;
		progress("views: $name");
		(my $relation = $name) =~ s/ .*//;
		my $explain =
		  "EXPLAIN (ANALYZE, TIMING OFF) SELECT * FROM pgtls_audit.$relation;\n";
		my $output = $node->safe_psql('postgres',
			$settings . ($explain x ($opt{view_runs} + 1)));
		my @ms = $output =~ /^Execution Time: ([\d.]+) ms$/mg;
		die "unexpected EXPLAIN output: $output" unless @ms == $opt{view_runs} + 1;
		my $rows = $node->safe_psql('postgres',
			"SELECT count(*) FROM pgtls_audit.$relation");
		$results{views}{$name} = {
			rows  => $rows,
			first => shift @ms,
			ms    => median(@ms)
		};
	}

	$node->safe_psql('postgres',
		q{SELECT pg_cancel_backend(pid) FROM pg_stat_activity
		   WHERE query = 'SELECT pg_sleep(600);'});
	$sessions->finish;
	return;
}

# Each view as queried, and the history through the set-returning function
# that 1.0.0's view used: [ name, settings run first in the same session ].
sub view_queries
{
	return map { [ $_, '' ] }
	  qw(history history_records() summary connections policy_violations
	  status server_certificate);
}

sub report_views
{
	my $views = $results{views} or return '';
	my @rows = (
		[
			'view', 'rows', 'first query ms', 'median ms',
			'target ms (first, median)', 'met'
		]);
	foreach my $view (map { $_->[0] } view_queries())
	{
		my $v = $views->{$view};
		# the whole history: 50 ms in a backend's first query, 25 after;
		# every other view: 50 ms
		my @target = $view eq 'history' ? (50, 25) : (50, 50);
		push @rows,
		  [
			"pgtls_audit.$view", $v->{rows}, sprintf('%.1f', $v->{first}),
			sprintf('%.1f', $v->{ms}), "$target[0], $target[1]",
			$v->{first} < $target[0] && $v->{ms} < $target[1] ? 'yes' : 'no'
		  ];
	}
	return sprintf(
		"\nSQL views, %d events in history, %d live sessions "
		  . "(server execution time; first query of a backend, then the "
		  . "median of %d more):\n\n",
		$views->{events}, $views->{sessions}, $opt{view_runs})
	  . format_table(@rows);
}


#---- A flood of refused attempts with client-chosen names ----

# Any TCP peer chooses the user names pgtls_audit records before
# authentication, so each refused attempt of a flood can bring a new
# aggregate key.  The flood runs in batches of raw refused startup packets
# (see PgtlsAuditTest::refused_startup_packet); the server CPU per attempt
# of the first batch (empty table) and of the last (full table, every new
# name evicting) shows whether the cost grows with the table.  Then
# legitimate TLS logins are timed during a flood of new names and during
# the same flood with one repeated name: the same load without the
# table's growth.
sub measure_flood
{
	foreach my $n (0 .. $#{ $opt{flood_tables} })
	{
		my $rows = $opt{flood_tables}[$n];
		my $attempts = $rows * $opt{flood_factor}[$n];
		my $per_batch = int($attempts / $opt{flood_batches});
		my %config = (
			key      => 'flood',
			name     => 'flood',
			loaded   => 1,
			settings => "pgtls_audit.mode = audit\n"
			  . "pgtls_audit.log_connections = off\n"
			  . "pgtls_audit.max_aggregates = $rows\n");
		write_configuration(\%config);
		$node->restart;
		$node->safe_psql('postgres', 'CREATE EXTENSION IF NOT EXISTS pgtls_audit');
		$node->safe_psql('postgres', 'SELECT pgtls_audit.reset()');
		my $result = $results{flood}{$rows} = { attempts => $attempts };

		# instructions of a refused attempt with a new name, empty table
		$result->{instructions_empty} = refusal_instructions("$rows-empty");
		$node->start;
		my $postmaster = postmaster_pid();

		foreach my $batch (1 .. $opt{flood_batches})
		{
			progress("flood, max_aggregates = $rows: batch $batch/"
				  . "$opt{flood_batches} of $per_batch new names");
			my $before = cpu_seconds($postmaster);
			my $started = Time::HiRes::time();
			flood_workers($per_batch, "b${batch}_");
			wait_for_backends_to_exit($postmaster);
			push @{ $result->{batches} },
			  {
				cpu_us  => 1e6 * (cpu_seconds($postmaster) - $before) / $per_batch,
				wall_us => 1e6 * (Time::HiRes::time() - $started) / $per_batch
			  };
		}
		@{$result}{qw(rows evicted)} = split /\|/, $node->safe_psql('postgres',
			'SELECT aggregates, aggregates_evicted FROM pgtls_audit.status');

		# the same once the table is full: a clean restart keeps it
		$result->{instructions_full} = refusal_instructions("$rows-full");
		$node->start;

		my $script = $PostgreSQL::Test::Utils::tmp_check . '/select1.sql';
		PostgreSQL::Test::Utils::append_to_file($script, "SELECT 1;\n")
		  unless -f $script;
		# alternated, so that a change in the machine's other load affects
		# both alike; the median of the rounds
		foreach my $round (1 .. $opt{flood_rounds})
		{
			foreach my $names ('new', 'repeated')
			{
				progress("flood, max_aggregates = $rows: round $round/"
					  . "$opt{flood_rounds}, $opt{flood_logins} TLS logins "
					  . "during a flood of $names names");
				my @workers =
				  flood_workers(undef, $names eq 'new' ? "l${round}_" : undef);
				my (undef, $rate) =
				  pgbench($workloads[0], $script, '-t', $opt{flood_logins});
				kill 'TERM', @workers;
				waitpid($_, 0) foreach @workers;
				push @{ $result->{logins}{$names} }, $rate;
			}
		}
		$result->{logins}{$_} = median(@{ $result->{logins}{$_} })
		  foreach ('new', 'repeated');
	}
	return;
}

# Restart the node under callgrind and count the instructions pgtls_audit
# executes for refused attempts with new names (the emit_log_hook, which
# records them); the median of flood_profiles attempts.  The node is left
# stopped.
sub refusal_instructions
{
	my ($name) = @_;
	my $dir = $PostgreSQL::Test::Utils::tmp_check . "/callgrind/flood-$name";
	make_path($dir);
	$node->stop;
	start_under_callgrind($dir);
	PgtlsAuditTest::refused_startup_packet($node->port, "cold_$name");
	PgtlsAuditTest::refused_startup_packet($node->port, "measured_${name}_$_")
	  foreach 1 .. $opt{flood_profiles};
	$node->stop;

	my @counts;
	foreach my $profile (sort { -M $b <=> -M $a } glob "$dir/callgrind.out.*")
	{
		# the postmaster may still be writing its own profile: only
		# backends matter
		my $tree = eval { extension_call_tree($profile) } or next;
		push @counts, $tree->{pgtls_audit_emit_log}{total}
		  if $tree->{record_refusal};
	}
	# the first attempt after a start is cold
	shift @counts if @counts > $opt{flood_profiles};
	return median(@counts);
}

# Refused attempts from two processes: $count in all, or until killed when
# $count is undefined; each with a new name made from $prefix, or all with
# one name when $prefix is undefined.  Returns the workers' pids when
# $count is undefined, and waits for them otherwise.
sub flood_workers
{
	my ($count, $prefix) = @_;
	my @pids;
	foreach my $worker (1 .. 2)
	{
		my $pid = fork();
		die "fork failed: $!" unless defined $pid;
		if ($pid == 0)
		{
			$SIG{TERM} = sub { POSIX::_exit(0) };
			for (my $i = 0; !defined $count || $i < $count / 2; $i++)
			{
				PgtlsAuditTest::refused_startup_packet($node->port,
					defined $prefix ? "$prefix${worker}_$i" : 'flood');
			}
			POSIX::_exit(0);
		}
		push @pids, $pid;
	}
	return @pids unless defined $count;
	waitpid($_, 0) foreach @pids;
	return;
}

sub report_flood
{
	my $flood = $results{flood} or return '';
	my @rows = ([
		'max_aggregates', 'new names', 'rows', 'evicted',
		'instructions, empty table', 'full table', 'full/empty',
		'CPU us/attempt first batch', 'last batch', 'last/first',
		'TLS logins/s, new names', 'one name', 'new/one'
	]);
	foreach my $table (sort { $a <=> $b } keys %$flood)
	{
		my $f = $flood->{$table};
		my ($first, $last) = @{ $f->{batches} }[ 0, -1 ];
		push @rows,
		  [
			$table, $f->{attempts}, $f->{rows}, $f->{evicted},
			commify($f->{instructions_empty}), commify($f->{instructions_full}),
			ratio($f->{instructions_full}, $f->{instructions_empty}),
			sprintf('%.0f', $first->{cpu_us}), sprintf('%.0f', $last->{cpu_us}),
			ratio($last->{cpu_us}, $first->{cpu_us}),
			sprintf('%.1f', $f->{logins}{new}),
			sprintf('%.1f', $f->{logins}{repeated}),
			ratio($f->{logins}{new}, $f->{logins}{repeated})
		  ];
	}
	return "\nA flood of refused attempts, each with a new user name "
	  . "(pgtls_audit's instructions for one, callgrind, median of "
	  . "$opt{flood_profiles}, before the flood and after it; server CPU per "
	  . "attempt, first and last of $opt{flood_batches} batches; pgbench -C "
	  . "TLS logins per second during the flood, "
	  . "median of $opt{flood_rounds} alternated rounds):\n\n"
	  . format_table(@rows);
}


#---- Helpers ----

sub write_configuration
{
	my ($config) = @_;
	open my $fh, '>', $node->data_dir . '/bench.conf'
	  or die "could not write bench.conf: $!";
	print $fh "# configuration ($config->{key}) $config->{name}\n",
	  "shared_preload_libraries = '", ($config->{loaded} ? $library : ''),
	  "'\n", $config->{settings};
	close $fh;
	return;
}

# A rules file of $count rules, none of which matches the bench role from
# 127.0.0.1: every connection walks through all of them.  Half name other
# roles (the address and database match, the user does not), half name
# other networks, with a role list and a database list.
sub write_rules_file
{
	my ($count) = @_;
	open my $fh, '>', $node->data_dir . '/bench_rules.conf'
	  or die "could not write bench_rules.conf: $!";
	foreach my $n (1 .. $count)
	{
		if ($n % 2)
		{
			printf $fh "all  app_%d  all  mode=audit min_protocol_version=TLSv1\n",
			  $n;
		}
		else
		{
			printf $fh
			  "db_%d,postgres  app_%d,bench  10.%d.%d.0/24  require_client_cert=on\n",
			  $n, $n, int($n / 256), $n % 256;
		}
	}
	close $fh;
	return;
}

sub applicable_workloads
{
	my ($config) = @_;
	return grep { !$_->{not_in}{ $config->{key} } } @workloads;
}

sub postmaster_pid
{
	open my $fh, '<', $node->data_dir . '/postmaster.pid'
	  or die "could not read postmaster.pid: $!";
	my $pid = <$fh>;
	chomp $pid;
	return $pid;
}

# The 1-minute load average.
sub load_average
{
	open my $fh, '<', '/proc/loadavg' or return '?';
	my ($one) = split ' ', scalar <$fh>;
	return $one;
}

sub median
{
	my @sorted = sort { $a <=> $b } @_;
	return undef unless @sorted;
	my $middle = int(@sorted / 2);
	return @sorted % 2
	  ? $sorted[$middle]
	  : ($sorted[ $middle - 1 ] + $sorted[$middle]) / 2;
}

sub progress
{
	my ($message) = @_;
	print $out strftime('%H:%M:%S ', localtime), $message, "\n";
	return;
}


#---- Report ----

sub report
{
	my $cpu_model = 'unknown CPU';
	if (open my $fh, '<', '/proc/cpuinfo')
	{
		while (<$fh>)
		{
			if (/^model name\s*:\s*(.*)/) { $cpu_model = $1; last; }
		}
	}
	chomp(my $cores = `nproc`);
	# Other work on the machine slows connections/s (and CPU time, less);
	# instruction counts do not notice it.
	my $text = sprintf(
		"pgtls_audit benchmark, %s, nproc %s, %s, load average %s before, %s after\n"
		  . "instructions: median of %d backend profiles (callgrind); "
		  . "CPU and conn/s: median of %d runs of pgbench -C -T %d\n",
		strftime('%Y-%m-%d', gmtime), $cores, $cpu_model,
		$load_before, load_average(),
		$opt{callgrind_rounds} * $opt{callgrind_connections},
		$opt{rounds}, $opt{seconds});
	if (!defined $opt{only} || $opt{only} !~ /^(views|flood)$/)
	{
		$text .= report_workload($_) foreach @workloads;
		$text .= report_hook($results{tls}{c}{profile},
			'one backend of (c), new TLS connection')
		  if $results{tls}{c}{profile};
	}
	$text .= report_views();
	$text .= report_flood();

	if ($opt{results})
	{
		open my $fh, '>', $opt{results}
		  or die "could not write \"$opt{results}\": $!";
		print $fh $text;
		close $fh;
	}
	else
	{
		print $out "\n$text";
	}
	return;
}

# One workload's table.  "in pgtls_audit" is the hook's inclusive count,
# exact for each connection; the difference of whole-backend medians also
# holds what the extension costs outside the hook, but with the noise of
# the TLS handshake (random key shares and blinding make its count vary
# by a few tenths of a per cent from one connection to the next).
sub report_workload
{
	my ($workload) = @_;
	my $cells = $results{ $workload->{key} };
	my %base = map { $_ => median(@{ $cells->{a}{$_} }) }
	  qw(instructions cpu_ms rate);

	my @rows = ([
		'configuration', 'instructions/conn', 'vs (a)', 'in pgtls_audit',
		'share of (a)', 'CPU ms/conn', 'vs (a)', 'conn/s', 'vs (a)'
	]);
	my (@notes, $spread);
	foreach my $config (@configurations)
	{
		my $label = "($config->{key}) $config->{name}";
		if (my $why = $workload->{not_in}{ $config->{key} })
		{
			push @rows, [ $label, ('n/a') x 8 ];
			push @notes, "n/a: ($config->{key}) $why.";
			next;
		}
		my $samples = $cells->{ $config->{key} };
		my %m = map { $_ => median(@{ $samples->{$_} // [] }) }
		  qw(instructions hook cpu_ms rate);
		my @sorted = sort { $a <=> $b } @{ $samples->{instructions} };
		my $range = ($sorted[-1] - $sorted[0]) / $m{instructions};
		$spread = $range if !defined $spread || $range > $spread;
		push @rows,
		  [
			$label,
			commify($m{instructions}),
			ratio($m{instructions}, $base{instructions}),
			commify($m{hook}),
			defined $m{hook} ? percent($m{hook} / $base{instructions}) : '-',
			sprintf('%.3f', $m{cpu_ms}),
			ratio($m{cpu_ms}, $base{cpu_ms}),
			sprintf('%.1f', $m{rate}),
			ratio($m{rate}, $base{rate}),
		  ];
	}
	push @notes,
	  sprintf('Instructions of one configuration range over %s of the median.',
		percent($spread));
	return "\n$workload->{name}\n\n"
	  . format_table(@rows) . "\n"
	  . join('', map { "$_\n" } @notes);
}

# Where the hook's instructions go: its callees and theirs, down to 1,000
# instructions.  Two levels only: callgrind_annotate sums a function's
# callees over all its callers, which is exact for the hook and for the
# functions only it calls, not for helpers called from several places.
sub report_hook
{
	my ($profile, $title) = @_;
	my $tree = extension_call_tree($profile);
	my $text = "\nWhere pgtls_audit's instructions go ($title, inclusive):\n\n";
	my $walk;
	$walk = sub {
		my ($function, $count, $depth) = @_;
		$text .= sprintf("  %9s  %s%s\n",
			commify($count), '  ' x $depth, $function);
		return if $depth == 2;
		foreach my $callee (sort { $b->[1] <=> $a->[1] }
			@{ $tree->{$function}{callees} // [] })
		{
			$walk->(@$callee, $depth + 1) if $callee->[1] >= 1000;
		}
	};
	foreach my $entry (entry_points())
	{
		$walk->($entry, $tree->{$entry}{total}, 0) if $tree->{$entry};
	}
	return $text;
}

sub ratio
{
	my ($value, $base) = @_;
	return '-' unless defined $value && defined $base && $base != 0;
	return sprintf('%.4f', $value / $base);
}

sub percent
{
	my ($fraction) = @_;
	return sprintf('%.2f%%', 100 * $fraction);
}

sub commify
{
	my ($number) = @_;
	return '-' unless defined $number;
	my $text = sprintf('%.0f', $number);
	1 while $text =~ s/^(\d+)(\d{3})/$1,$2/;
	return $text;
}

# Rows of cells as a Markdown table, columns padded to their widest cell.
sub format_table
{
	my @rows = @_;
	my @width;
	foreach my $row (@rows)
	{
		foreach my $i (0 .. $#$row)
		{
			my $length = length $row->[$i];
			$width[$i] = $length if !defined $width[$i] || $length > $width[$i];
		}
	}
	my $line = sub {
		my @cells = @_;
		return '| '
		  . join(' | ',
			map { sprintf('%-*s', $width[$_], $cells[$_] // '') }
			  0 .. $#width)
		  . " |\n";
	};
	my $text = $line->(@{ $rows[0] });
	$text .= $line->(map { '-' x $_ } @width);
	$text .= $line->(@$_) foreach @rows[ 1 .. $#rows ];
	return $text;
}
