
# Copyright (c) pgtls_audit contributors

# The store and its views, with real TLS sessions: values equal pg_stat_ssl's
# and are whole where pg_stat_ssl truncates; failed and rejected attempts are
# in the history; wrap-around is counted exactly; policy_violations follows
# a reload; history and aggregates survive a restart; a corrupt dump is
# ignored; a SIGKILLed backend leaves a working store; visibility follows
# pg_stat_ssl; without shared_preload_libraries every view says so.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('store', $pki,
	conf => "pgtls_audit.history_size = 20\nrestart_after_crash = on\n");
my $dump = $node->data_dir . '/pg_stat/pgtls_audit.stat';

$node->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($node, 'alice', 'bob');

my $long = PgtlsAuditTest::make_client_cert($pki, 'long',
	'/C=US/ST=Some Rather Long State Name/L=A City With A Long Name'
	  . '/O=An Organization Whose Name Is Deliberately Long Ltd'
	  . '/OU=Department of Redundancy Department'
	  . '/CN=long-distinguished-name-client.example.com');
my $plain = PgtlsAuditTest::make_client_cert($pki, 'certuser',
	'/O=pgtls_audit test/CN=certuser');

my %alice = (user => 'alice', password => 'alice-secret');

sub connstr { return PgtlsAuditTest::tls_connstr($node, $pki, @_); }

sub query
{
	my ($sql, %opts) = @_;
	return $node->safe_psql('postgres', $sql,
		%opts ? (connstr => connstr(%opts)) : ());
}

sub status
{
	my %status;
	@status{qw(total retained overwritten aggregates evicted)} = split /\|/,
	  query('SELECT events_total, events_retained, events_overwritten, '
		  . 'aggregates, aggregates_evicted FROM pgtls_audit.status');
	return \%status;
}

# connections: a live TLS session seen from itself, against pg_stat_ssl.
my $row = query(
	q{SELECT c.tls_version = s.version, c.cipher = s.cipher,
	         c.cipher_bits = s.bits, c.cert_serial = s.client_serial,
	         c.ssl, c.transport, c.auth_method, c.forward_secrecy,
	         c.key_exchange_group, c.sni, c.cert_verified,
	         c.cert_subject_truncated, c.cert_days_left BETWEEN 29 AND 30,
	         length(s.client_dn), c.cert_subject, c.cert_issuer,
	         c.cert_fingerprint, c.cert_key_algorithm, c.cert_key_bits
	    FROM pgtls_audit.connections c JOIN pg_stat_ssl s USING (pid)
	   WHERE pid = pg_backend_pid()},
	%alice, cert => $long);
my @c = split /\|/, $row;
is_deeply(
	[ @c[ 0 .. 12 ] ],
	[qw(t t t t t ipv4 scram-sha-256 t), PgtlsAuditTest::default_group($node), qw(localhost t f t)],
	'connections: TLS facts equal pg_stat_ssl and are complete');
is($c[13], 63, 'pg_stat_ssl truncates the DN to 63 bytes');
is($c[14], $long->{subject}, 'connections: the full subject DN');
is($c[15], $long->{issuer},  'connections: the issuer DN');
is($c[16], $long->{fingerprint}, 'connections: fingerprint');
is("$c[17] $c[18]", 'RSA 2048', 'connections: key');

# A plaintext session and a unix-socket one, side by side.
is( query(
		q{SELECT transport, ssl, tls_version IS NULL, current_violations
		    FROM pgtls_audit.connections WHERE pid = pg_backend_pid()},
		%alice, sslmode => 'disable'),
	'ipv4|f|t|{no_encryption}',
	'connections: plaintext TCP, violating require_ssl');
is( query(
		q{SELECT count(*) FROM pgtls_audit.connections
		   WHERE backend_type = 'client backend'}),
	'1', 'connections: one row per live client backend');

# history: failed, abandoned and rejected attempts are there too.
query('SELECT pgtls_audit.reset()');
$node->connect_fails(connstr(user => 'alice', password => 'wrong'),
	'wrong password fails');
$node->connect_fails(connstr(user => 'alice'), 'missing password fails',
	expected_stderr => qr/no password supplied/);
$node->append_conf('postgresql.conf', "pgtls_audit.mode = 'enforce'");
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('pgtls_audit.mode') = 'enforce'});
$node->connect_fails(connstr(%alice, sslmode => 'disable'),
	'plaintext rejected in enforce mode',
	expected_stderr => qr/connection rejected: encryption is required/);
$node->append_conf('postgresql.conf', "pgtls_audit.mode = 'audit'");
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('pgtls_audit.mode') = 'audit'});

is( query(
		q{SELECT string_agg(outcome || ':' || user_name || ':' || transport
		                    || ':' || ssl || ':' || coalesce(array_to_string(violations, ','), '-'),
		                    ' ' ORDER BY event_id)
		    FROM pgtls_audit.history WHERE user_name = 'alice'}),
	'auth_failed:alice:ipv4:true: abandoned:alice:ipv4:true: rejected:alice:ipv4:false:no_encryption',
	'history: failed, abandoned and rejected attempts');
is( query(
		q{SELECT outcome, count FROM pgtls_audit.summary
		   WHERE user_name = 'alice' ORDER BY outcome}),
	"abandoned|1\nauth_failed|1\nrejected|1",
	'summary: counted by outcome');

# Wrap-around: 20 slots, 25 events after a reset.
query('SELECT pgtls_audit.reset()');
query('SELECT 1', %alice) for 1 .. 24;    # the 25th is the query below
my $status = status();
is_deeply([ @$status{qw(total retained overwritten)} ], [ 25, 20, 5 ],
	'status: overwritten events counted exactly');
is( query(
		q{SELECT count(*), max(event_id) - min(event_id) + 1,
		         count(DISTINCT event_id) FROM pgtls_audit.history}),
	'20|20|20', 'history: the newest 20 events, consecutive');

# policy_violations follows a reload while the session stays.
my $session = PgtlsAuditTest::background_session($node,
	connstr(%alice, max_protocol => 'TLSv1.2', application_name => 'tls12'));
my $tls12_pid = $session->query('SELECT pg_backend_pid()');
is( query(
		qq{SELECT count(*) FROM pgtls_audit.policy_violations
		    WHERE pid = $tls12_pid}),
	'0', 'policy_violations: TLSv1.2 session compliant at first');
$node->append_conf('postgresql.conf',
	"pgtls_audit.min_protocol_version = 'TLSv1.3'");
$node->reload;
ok( $node->poll_query_until(
		'postgres',
		qq{SELECT violations = '{protocol}' AND violations_at_connect = '{}'
		     FROM pgtls_audit.policy_violations WHERE pid = $tls12_pid}),
	'policy_violations: TLSv1.2 session listed after the reload');
is( query(
		q{SELECT count(*) FROM pgtls_audit.policy_violations
		   WHERE tls_version = 'TLSv1.3'}),
	'0', 'policy_violations: TLSv1.3 sessions are not listed');

# Visibility: bob sees only bob.
my $bob_view = query(
	q{SELECT (SELECT count(*) FROM pgtls_audit.history WHERE user_name <> 'bob'),
	         (SELECT count(*) FROM pgtls_audit.history WHERE user_name = 'bob') > 0,
	         (SELECT count(*) FROM pgtls_audit.connections WHERE user_name <> 'bob'),
	         (SELECT count(*) FROM pgtls_audit.summary WHERE user_name <> 'bob'),
	         (SELECT count(*) FROM pgtls_audit.policy_violations WHERE user_name <> 'bob'),
	         (SELECT count(*) FROM pg_stat_ssl WHERE version IS NOT NULL)},
	user => 'bob', password => 'bob-secret');
is($bob_view, '0|t|0|0|0|1', 'an unprivileged role sees only its own rows');
$node->safe_psql('postgres', 'GRANT pg_read_all_stats TO bob');
is( query(
		q{SELECT count(*) > 0 FROM pgtls_audit.connections WHERE pid <> pg_backend_pid()},
		user => 'bob', password => 'bob-secret'),
	't', 'pg_read_all_stats sees every session');
$session->quit;

# server_certificate: the certificate in ssl_cert_file.
my $server = PgtlsAuditTest::certificate_facts($pki->{server_cert});
is( query(
		q{SELECT subject, issuer, serial, fingerprint, extract(epoch FROM not_after)::bigint,
		         days_left BETWEEN 29 AND 30, key_algorithm, key_bits,
		         signature_algorithm, subject_alt_names
		    FROM pgtls_audit.server_certificate}),
	join('|',
		$server->{subject}, $server->{issuer}, $server->{serial},
		$server->{fingerprint}, $server->{not_after_epoch}, 't', 'RSA', '2048',
		'sha256WithRSAEncryption',
		'{DNS:localhost,"IP Address:127.0.0.1","IP Address:0:0:0:0:0:0:0:1"}'),
	'server_certificate: as openssl reads it');

# Persistence across a clean restart.
my $before_history = query(
	q{SELECT string_agg(event_id || ':' || outcome || ':' || user_name, ' '
	                    ORDER BY event_id) FROM pgtls_audit.history});
my $before_summary = query(
	q{SELECT string_agg(row, ' ' ORDER BY row)
	    FROM (SELECT user_name || ':' || transport || ':' || coalesce(tls_version, '-')
	                 || ':' || outcome || ':' || count AS row
	          FROM pgtls_audit.summary WHERE user_name <> current_user) s});
$node->stop;
ok(-f $dump, 'a clean shutdown writes the dump file');
$node->start;
ok(!-f $dump, 'the dump file is removed once loaded');
my @before = split / /, $before_history;
my $last_before = (split /:/, $before[-1])[0];
my @after = split / /, query(
	qq{SELECT string_agg(event_id || ':' || outcome || ':' || user_name, ' '
	                     ORDER BY event_id)
	     FROM pgtls_audit.history WHERE event_id <= $last_before});
# the new connections after the restart overwrite the oldest slots
cmp_ok(scalar(@after), '>=', 17, 'history survives a restart: most of it');
is_deeply(\@after, [ @before[ -@after .. -1 ] ],
	'history survives a restart: the same events');
my $after_summary = query(
	q{SELECT string_agg(row, ' ' ORDER BY row)
	    FROM (SELECT user_name || ':' || transport || ':' || coalesce(tls_version, '-')
	                 || ':' || outcome || ':' || count AS row
	          FROM pgtls_audit.summary WHERE user_name <> current_user) s});
is($after_summary, $before_summary, 'summary survives a restart');

# A corrupt dump is ignored with a LOG line, and removed.
$node->stop;
ok(-f $dump, 'dump written again');
PostgreSQL::Test::Utils::append_to_file($dump, 'trailing garbage');
my $offset = -s $node->logfile;
$node->start;
ok( $node->log_contains(
		qr/LOG:  ignoring invalid pgtls_audit file "pg_stat\/pgtls_audit.stat"/,
		$offset),
	'corrupt dump: LOG line');
ok(!-f $dump, 'corrupt dump: removed');
is(status()->{total}, 1, 'corrupt dump: the store starts empty');

$node->stop;
open my $fh, '>', $dump or die;
print $fh "not a pgtls_audit file at all";
close $fh;
$offset = -s $node->logfile;
$node->start;
ok( $node->log_contains(qr/ignoring invalid pgtls_audit file/, $offset),
	'foreign dump: LOG line');

# A SIGKILLed backend: crash restart, working store, no dump.
$session = PgtlsAuditTest::background_session($node, connstr(%alice));
my $victim = $session->query('SELECT pg_backend_pid()');
kill 'KILL', $victim;
$session->quit;
$node->poll_query_until('postgres', 'SELECT true');
ok($node->log_contains(qr/terminated by signal 9: Killed/),
	'backend killed, crash restart');
ok(!-f $dump, 'no dump after a crash');
query('SELECT 1', cert => $plain, user => 'certuser');
is( query(
		q{SELECT outcome || ':' || cert_subject FROM pgtls_audit.history
		   WHERE user_name = 'certuser' ORDER BY event_id DESC LIMIT 1}),
	"accepted:$plain->{subject}",
	'store works after the crash restart');
is( query(
		q{SELECT events_total = (SELECT count(*) FROM pgtls_audit.history)
		    FROM pgtls_audit.status}),
	't', 'status and history agree after the crash');

# pgtls_audit.save = off: a clean shutdown writes nothing.
$node->append_conf('postgresql.conf', 'pgtls_audit.save = off');
$node->reload;
$node->poll_query_until('postgres', q{SELECT current_setting('pgtls_audit.save') = 'off'});
$node->stop;
ok(!-f $dump, 'save = off: no dump file');
$node->start;
is(status()->{total}, 1, 'save = off: the store starts empty');
$node->append_conf('postgresql.conf', 'pgtls_audit.save = on');

# A smaller max_dn_length keeps long DNs truncated, flagged.
$node->append_conf('postgresql.conf', 'pgtls_audit.max_dn_length = 128');
$node->restart;
my ($truncated, $short_dn) = split /\|/, query(
	q{SELECT cert_subject_truncated, cert_subject FROM pgtls_audit.connections
	   WHERE pid = pg_backend_pid()},
	%alice, cert => $long);
is($truncated, 't', 'max_dn_length: flagged as truncated');
ok(length($short_dn) <= 128 && length($short_dn) > 100
	  && index($long->{subject}, $short_dn) == 0,
	'max_dn_length: a prefix of the DN, at most 128 bytes');
$node->stop;

# A hot standby: the extension never writes, so it audits and answers there.
my $primary = PgtlsAuditTest::tls_node(
	'primary', $pki,
	init => { allows_streaming => 1 },
	hba  => PgtlsAuditTest::hba_lines('local replication all trust'));
$primary->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
PgtlsAuditTest::create_roles($primary, 'alice');
$primary->backup('backup');
my $standby = PostgreSQL::Test::Cluster->new('standby');
$standby->init_from_backup($primary, 'backup', has_streaming => 1);
$standby->start;
$primary->wait_for_catchup($standby);
is( $standby->safe_psql(
		'postgres',
		q{SELECT pg_is_in_recovery(), h.outcome, h.tls_version, c.cipher_bits > 0
		    FROM pgtls_audit.history h JOIN pgtls_audit.connections c USING (pid)
		   WHERE pid = pg_backend_pid()},
		connstr => PgtlsAuditTest::tls_connstr($standby, $pki, %alice)),
	't|accepted|TLSv1.3|t',
	'hot standby: a TLS session audited and shown by the views');
$standby->stop;
$primary->stop;

# Without shared_preload_libraries: CREATE EXTENSION works, the views say why
# they cannot.
my $bare = PostgreSQL::Test::Cluster->new('bare');
$bare->init;
$bare->start;
$bare->safe_psql('postgres', 'CREATE EXTENSION pgtls_audit');
foreach my $view (
	qw(history summary connections policy_violations server_certificate status))
{
	my ($ret, $stdout, $stderr) = $bare->psql('postgres',
		"\\set VERBOSITY verbose\nSELECT * FROM pgtls_audit.$view");
	like(
		$stderr,
		qr/ERROR:  55000: pgtls_audit must be loaded via "shared_preload_libraries"/,
		"not preloaded: $view raises object_not_in_prerequisite_state");
}
my ($ret, $stdout, $stderr) =
  $bare->psql('postgres', 'SELECT pgtls_audit.reset()');
like($stderr, qr/must be loaded via "shared_preload_libraries"/,
	'not preloaded: reset()');
$bare->stop;

done_testing();
