
# Copyright (c) pgtls_audit contributors

=pod

=head1 NAME

PgtlsAuditTest - real-TLS test harness for pgtls_audit

=head1 SYNOPSIS

  use PgtlsAuditTest;

  my $pki  = PgtlsAuditTest::make_pki();
  my $cert = PgtlsAuditTest::make_client_cert($pki, 'alice', '/CN=alice');
  my $node = PgtlsAuditTest::tls_node('main', $pki);
  my $offset = -s $node->logfile;
  $node->connect_ok(PgtlsAuditTest::tls_connstr($node, $pki, user => 'alice', cert => $cert), 'alice');
  my ($line) = PgtlsAuditTest::wait_for_audit($node, $offset, 1);

=head1 DESCRIPTION

Certificates are made at test time with the openssl command: a CA, a server
certificate for localhost and 127.0.0.1/::1, and any client certificate a
test asks for, whatever bytes its subject holds.  Nodes listen on the IPv4
and IPv6 loopback with TLS on and pgtls_audit preloaded.  Audit lines are
read back from the server log and parsed, in either log format.

Policy tests make weak sessions with a per-client OpenSSL configuration
(openssl_client_conf), change the policy with set_policy, connect with
client_attempt, and prove a setting with audit_allows_enforce_refuses:

  my $conf = PgtlsAuditTest::openssl_client_conf($pki->{dir},
	  CipherString => 'AES128-SHA:@SECLEVEL=0');
  PgtlsAuditTest::audit_allows_enforce_refuses($node, $pki,
	  name       => 'forward secrecy',
	  policy     => { require_forward_secrecy => 'on' },
	  client     => { user => 'alice', password => 'secret',
	                  max_protocol => 'TLSv1.2', openssl_conf => $conf },
	  violations => 'forward_secrecy',
	  message    => 'connection rejected: TLS cipher AES128-SHA does not provide forward secrecy');

=cut

package PgtlsAuditTest;

use strict;
use warnings;

use Carp;
use IO::Socket::INET;
use JSON::PP;
use Math::BigInt;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);
use Time::Local qw(timegm);

# Run openssl with an argument list, so that no subject byte meets a shell.
sub openssl
{
	my @args = @_;
	my ($stdout, $stderr);
	my $ok = IPC::Run::run([ 'openssl', @args ], '<', \undef, '>', \$stdout,
		'2>', \$stderr);
	croak "openssl @args failed: $stderr" unless $ok;
	return $stdout;
}

=pod

=item make_pki([$dir])

Make a CA and a server certificate (CN=localhost, SAN localhost, 127.0.0.1,
::1) in $dir (a new temporary directory by default).  Returns a hash with
the paths: dir, ca_cert, ca_key, server_cert, server_key.

=cut

sub make_pki
{
	my ($dir) = @_;
	$dir //= PostgreSQL::Test::Utils::tempdir();
	my %pki = (
		dir         => $dir,
		ca_cert     => "$dir/ca.crt",
		ca_key      => "$dir/ca.key",
		server_cert => "$dir/server.crt",
		server_key  => "$dir/server.key");

	openssl('req', '-x509', '-new', '-nodes', '-newkey', 'rsa:2048',
		'-keyout', $pki{ca_key}, '-out', $pki{ca_cert}, '-days', '30',
		'-subj', '/O=pgtls_audit test/CN=pgtls_audit test CA');

	my $ext = "$dir/server.ext";
	PostgreSQL::Test::Utils::append_to_file($ext,
		"subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1\n");
	openssl('req', '-new', '-nodes', '-newkey', 'rsa:2048',
		'-keyout', $pki{server_key}, '-out', "$dir/server.csr",
		'-subj', '/CN=localhost');
	openssl('x509', '-req', '-in', "$dir/server.csr", '-CA', $pki{ca_cert},
		'-CAkey', $pki{ca_key}, '-CAcreateserial', '-days', '30',
		'-extfile', $ext, '-out', $pki{server_cert});
	chmod 0600, $pki{server_key};
	return \%pki;
}

=pod

=item make_client_cert($pki, $name, $subject, %opts)

Make a client certificate signed by the test CA with the given openssl
"-subj" string (UTF-8 allowed; "\+" and "\," escape, raw control bytes
pass as they are).  Options: key => 'rsa:2048' (default; any 'rsa:BITS'),
'ec' (curve => 'prime256v1' by default) or 'ed25519', days => 30,
digest => 'sha1' (the digest the CA signs with; openssl's default
otherwise), serial => '0x...' (default: the CA's next serial).  Returns a hash: cert, key, and the facts an independent
openssl reading gives: subject and issuer (RFC 2253, UTF-8), serial
(decimal), fingerprint (SHA-256), not_before and not_after (ISO 8601).

=cut

sub make_client_cert
{
	my ($pki, $name, $subject, %opts) = @_;
	my $dir  = $pki->{dir};
	my %cert = (cert => "$dir/$name.crt", key => "$dir/$name.key");
	my @key =
	  ($opts{key} // 'rsa:2048') eq 'ec'
	  ? ('-newkey', 'ec', '-pkeyopt',
		'ec_paramgen_curve:' . ($opts{curve} // 'prime256v1'))
	  : ('-newkey', $opts{key} // 'rsa:2048');

	openssl('req', '-new', '-nodes', @key, '-utf8', '-keyout', $cert{key},
		'-out', "$dir/$name.csr", '-subj', $subject);
	openssl('x509', '-req', '-in', "$dir/$name.csr", '-CA', $pki->{ca_cert},
		'-CAkey', $pki->{ca_key},
		$opts{serial} ? ('-set_serial', $opts{serial}) : '-CAcreateserial',
		$opts{digest} ? ("-$opts{digest}") : (),
		'-days', $opts{days} // '30', '-out', $cert{cert});
	chmod 0600, $cert{key};

	%cert = (%cert, %{ certificate_facts($cert{cert}) });
	return \%cert;
}

=pod

=item certificate_facts($path)

What openssl itself reads in a PEM certificate: subject and issuer (RFC
2253, UTF-8), serial (decimal), fingerprint (SHA-256), not_before and
not_after (ISO 8601, the log's form) and not_after_epoch.

=cut

sub certificate_facts
{
	my ($path) = @_;
	my $read = sub {
		my $out = openssl('x509', '-in', $path, '-noout',
			'-nameopt', 'RFC2253,-esc_msb', '-dateopt', 'iso_8601', @_);
		chomp $out;
		$out =~ s/^[^=]*=//;
		return $out;
	};
	my %facts;
	$facts{subject}     = $read->('-subject');
	$facts{issuer}      = $read->('-issuer');
	$facts{serial}      = Math::BigInt->from_hex($read->('-serial'))->bstr;
	$facts{fingerprint} = $read->('-fingerprint', '-sha256');
	$facts{not_before}  = iso_timestamp($read->('-startdate'));
	$facts{not_after}   = iso_timestamp($read->('-enddate'));
	$facts{not_after} =~ /^(\d+)-(\d+)-(\d+)T(\d+):(\d+):(\d+)/;
	$facts{not_after_epoch} = timegm($6, $5, $4, $3, $2 - 1, $1);
	return \%facts;
}

# "2026-11-22 07:00:00Z" -> "2026-11-22T07:00:00.000000Z", the log's form.
sub iso_timestamp
{
	my ($text) = @_;
	$text =~ s/^(\d{4}-\d\d-\d\d) (\d\d:\d\d:\d\d)Z$/$1T$2.000000Z/
	  or croak "unexpected openssl date \"$text\"";
	return $text;
}

=pod

=item tls_node($name, $pki, %opts)

A new, started node: TLS on with the test PKI, listening on 127.0.0.1 and
::1, pgtls_audit preloaded (from $ENV{PGTLS_AUDIT_LIBRARY}, a path to a
pgtls_audit.so, when set).  $opts{init} is passed to init (e.g.
allows_streaming => 1), $opts{conf} is appended to postgresql.conf,
$opts{hba} replaces pg_hba.conf (default: hba_lines() below).

=cut

sub tls_node
{
	my ($name, $pki, %opts) = @_;
	my $library = $ENV{PGTLS_AUDIT_LIBRARY} // 'pgtls_audit';
	my $node = PostgreSQL::Test::Cluster->new($name);
	$node->init(%{ $opts{init} // {} });
	$node->append_conf(
		'postgresql.conf', qq{
listen_addresses = '127.0.0.1,::1'
shared_preload_libraries = '$library'
ssl = on
ssl_cert_file = '$pki->{server_cert}'
ssl_key_file = '$pki->{server_key}'
ssl_ca_file = '$pki->{ca_cert}'
password_encryption = 'scram-sha-256'
# the test certificates are valid for 30 days: no expiry warning unless a
# test asks for one
pgtls_audit.cert_expiry_warning_days = 0
} . ($opts{conf} // ''));
	write_hba($node, $opts{hba} // hba_lines());
	$node->start;
	return $node;
}

=pod

=item create_roles($node, @names)

The roles the tests log in as: "cert_users" (a group, pg_hba "cert" in
hba_lines()), "certuser" in it, and each of @names with the password
"NAME-secret".

=cut

sub create_roles
{
	my ($node, @names) = @_;
	$node->safe_psql('postgres',
		join("\n",
			'CREATE ROLE cert_users;',
			'CREATE ROLE certuser LOGIN IN ROLE cert_users;',
			map { "CREATE ROLE $_ LOGIN PASSWORD '$_-secret';" } @names));
	return;
}

=pod

=item hba_lines(@rules)

The default rules: unix sockets trusted; over TLS, role "certuser" and any
role named like its certificate's CN authenticate by certificate, everyone
else by SCRAM; plaintext TCP by SCRAM; IPv6 likewise.  @rules (lines
without their newline) come first after the unix socket rule, so that they
win over the defaults.

=cut

sub hba_lines
{
	my @rules = @_;
	return join('',
		"local all all trust\n",
		map({ "$_\n" } @rules),
		map { (
			"hostssl all +cert_users $_ cert\n",
			"hostssl all all $_ scram-sha-256\n",
			"hostnossl all all $_ scram-sha-256\n") } ('127.0.0.1/32', '::1/128'));
}

sub write_hba
{
	my ($node, $rules) = @_;
	open my $fh, '>', $node->data_dir . '/pg_hba.conf'
	  or croak "could not write pg_hba.conf: $!";
	print $fh $rules;
	close $fh;
	return;
}

=pod

=item tls_connstr($node, $pki, %opts)

A libpq connection string to the node over TCP.  Options: user, password,
sslmode (default require), cert (a make_client_cert hash), ipv6 (connect to
::1), min_protocol and max_protocol (ssl_min_protocol_version and
ssl_max_protocol_version; libpq's own minimum is TLSv1.2), application_name,
extra.
Without a cert, sslcert=invalid keeps the user's own certificate out.

=cut

sub tls_connstr
{
	my ($node, $pki, %opts) = @_;
	my $addr = $opts{ipv6} ? '::1' : '127.0.0.1';
	my @parts = (
		'host=localhost', "hostaddr=$addr",
		'port=' . $node->port, 'dbname=postgres',
		'user=' . ($opts{user} // 'postgres'),
		'sslmode=' . ($opts{sslmode} // 'require'),
		"sslrootcert=$pki->{ca_cert}");
	if ($opts{cert})
	{
		push @parts, "sslcert=$opts{cert}{cert}", "sslkey=$opts{cert}{key}";
	}
	else
	{
		push @parts, 'sslcert=invalid';
	}
	push @parts, "password=$opts{password}" if defined $opts{password};
	push @parts, "ssl_min_protocol_version=$opts{min_protocol}"
	  if $opts{min_protocol};
	push @parts, "ssl_max_protocol_version=$opts{max_protocol}"
	  if $opts{max_protocol};
	push @parts, "application_name=$opts{application_name}"
	  if defined $opts{application_name};
	push @parts, $opts{extra} if $opts{extra};
	return join(' ', @parts);
}

=pod

=item audit_lines($node, $offset)

The pgtls_audit lines written to the node's log since byte $offset, each
parsed into a hash (text or JSON format).  The raw line is under "_line".

=cut

sub audit_lines
{
	my ($node, $offset) = @_;
	my $log = PostgreSQL::Test::Utils::slurp_file($node->logfile, $offset);
	my @found;
	foreach my $line (split /\n/, $log)
	{
		next unless $line =~ /pgtls_audit: (.*)$/;
		my $fields = parse_audit_line($1);
		$fields->{_line} = $line;
		push @found, $fields;
	}
	return @found;
}

=pod

=item wait_for_audit($node, $offset, $count)

Poll the log until at least $count audit lines follow $offset (the server
writes asynchronously); return them.

=cut

sub wait_for_audit
{
	my ($node, $offset, $count) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (1)
	{
		my @lines = audit_lines($node, $offset);
		return @lines if @lines >= $count;
		croak "timed out waiting for $count pgtls_audit lines, found "
		  . scalar(@lines)
		  if time() > $deadline;
		usleep(100_000);
	}
}

=pod

=item parse_audit_line($text)

Parse what follows "pgtls_audit: ": a JSON object, or key=value pairs whose
quoted values use \" \\ \n \r \t \xHH, \uHHHH and \UHHHHHHHH escapes.  Values come back
as Perl byte strings (UTF-8 encoded).  Dies on anything malformed, so a
test cannot pass on a line it did not understand.

=cut

sub parse_audit_line
{
	my ($text) = @_;
	if ($text =~ /^\{/)
	{
		my $json = JSON::PP->new->utf8(1)->decode($text);
		foreach my $key (keys %$json)
		{
			my $value = $json->{$key};
			if (JSON::PP::is_bool($value))
			{
				$json->{$key} = $value ? 'true' : 'false';
			}
			elsif (ref $value eq 'ARRAY')
			{
				$json->{$key} = join(',', @$value);
			}
			elsif (defined $value)
			{
				utf8::encode($json->{$key});
			}
		}
		return $json;
	}

	my %fields;
	my $rest = $text;
	while ($rest ne '')
	{
		$rest =~ s/^(\w+)=("(?:[^"\\]|\\.)*"|[^" ]+)( |$)//
		  or croak "malformed audit line at: $rest";
		my ($key, $value) = ($1, $2);
		croak "duplicate key $key" if exists $fields{$key};
		if ($value =~ s/^"(.*)"$/$1/s)
		{
			$value =~
			  s{\\(u[0-9a-f]{4}|U[0-9a-f]{8}|x[0-9a-f]{2}|.)}{unescape($1)}ge;
		}
		$fields{$key} = $value;
	}
	return \%fields;
}

sub unescape
{
	my ($escape) = @_;
	return "\n" if $escape eq 'n';
	return "\r" if $escape eq 'r';
	return "\t" if $escape eq 't';
	return chr(hex(substr($escape, 1))) if $escape =~ /^x/;
	if ($escape =~ /^u/i)
	{
		my $char = chr(hex(substr($escape, 1)));
		utf8::encode($char);
		return $char;
	}
	return $escape;
}

=pod

=item cleaned_ascii($node, $value)

$value as PostgreSQL keeps an application_name: each byte outside printable
ASCII becomes "?" before 16, "\xNN" from 16 on.

=cut

sub cleaned_ascii
{
	my ($node, $value) = @_;
	my $escape = $node->pg_version >= 16;
	$value =~ s{([^\x20-\x7e])}{$escape ? sprintf('\\x%02x', ord($1)) : '?'}ge;
	return $value;
}

=pod

=item default_group($node)

The key exchange group a default server negotiates with a default OpenSSL 3
client: prime256v1 (ssl_ecdh_curve) before 18, X25519 (first of ssl_groups)
from 18 on, as OpenSSL names them.

=cut

sub default_group
{
	my ($node) = @_;
	return $node->pg_version >= 18 ? 'x25519' : 'secp256r1';
}

=pod

=item session_facts($node, $connstr)

Connect with $connstr and return what pg_stat_ssl says of that very session,
with its pid: a hash of pid, version, cipher, bits, client_serial.

=cut

sub session_facts
{
	my ($node, $connstr) = @_;
	my ($ret, $stdout, $stderr) = $node->psql(
		'postgres',
		"SELECT pid, version, cipher, bits, client_serial FROM pg_stat_ssl WHERE pid = pg_backend_pid()",
		connstr      => $connstr,
		extra_params => [ '-w', '-A', '-F', '|' ]);
	croak "could not connect with $connstr: $stderr" if $ret != 0;
	my %facts;
	@facts{qw(pid version cipher bits client_serial)} = split /\|/, $stdout,
	  -1;
	return \%facts;
}

=pod

=item audit_line_for_pid($node, $offset, $pid)

Wait for and return the audit line of backend $pid written after $offset.

=cut

sub audit_line_for_pid
{
	my ($node, $offset, $pid) = @_;
	my $deadline = time() + $PostgreSQL::Test::Utils::timeout_default;
	while (1)
	{
		my @lines = grep { $_->{pid} eq $pid } audit_lines($node, $offset);
		croak "more than one audit line for pid $pid" if @lines > 1;
		return $lines[0] if @lines;
		croak "timed out waiting for the audit line of pid $pid"
		  if time() > $deadline;
		usleep(100_000);
	}
}

=pod

=item openssl_client_conf($dir, %settings)

Write an OpenSSL configuration file in $dir whose system_default section
holds %settings (for example CipherString => 'AES128-SHA:@SECLEVEL=0',
MinProtocol => 'TLSv1'), and return its path.  Give it to one client run as
OPENSSL_CONF (client_attempt's openssl_conf option): it replaces the
system's configuration, so the client can offer what Debian's defaults
forbid.

=cut

my $client_conf_count = 0;

sub openssl_client_conf
{
	my ($dir, %settings) = @_;
	my $path = sprintf('%s/openssl_client_%d.cnf', $dir, ++$client_conf_count);
	PostgreSQL::Test::Utils::append_to_file(
		$path,
		join('',
			"openssl_conf = default_conf\n\n",
			"[default_conf]\nssl_conf = ssl_sect\n\n",
			"[ssl_sect]\nsystem_default = system_default_sect\n\n",
			"[system_default_sect]\n",
			map { "$_ = $settings{$_}\n" } sort keys %settings));
	return $path;
}

=pod

=item background_session($node, $connstr)

A psql session that stays connected with $connstr, for as long as a test
needs a live session: $session->query($sql) returns the output of one
statement, $session->quit ends it.

=cut

sub background_session
{
	my ($node, $connstr) = @_;
	my $session = { stdin => '', stdout => '', stderr => '' };
	$session->{timeout} =
	  IPC::Run::timeout($PostgreSQL::Test::Utils::timeout_default);
	$session->{run} = IPC::Run::start(
		[ $node->installed_command('psql'), '-XAtq', '-w', '-d', $connstr,
		  '-v', 'ON_ERROR_STOP=1', '-f', '-' ],
		'<', \$session->{stdin}, '>', \$session->{stdout},
		'2>', \$session->{stderr}, $session->{timeout});
	return bless $session, 'PgtlsAuditTest::Session';
}

package PgtlsAuditTest::Session;

use Carp;

# Run one statement; its output (without the trailing newline).
sub query
{
	my ($self, $sql) = @_;
	my $marker = 'pgtls_audit_session_done';
	$self->{stdout} = '';
	$self->{stdin} .= "$sql;\n\\echo $marker\n";
	$self->{timeout}->start($PostgreSQL::Test::Utils::timeout_default);
	$self->{run}->pump until $self->{stdout} =~ /$marker\n/
	  || $self->{timeout}->is_expired;
	croak "session query timed out: $sql; stderr: $self->{stderr}"
	  if $self->{timeout}->is_expired;
	(my $result = $self->{stdout}) =~ s/\n?$marker\n//;
	return $result;
}

sub quit
{
	my ($self) = @_;
	$self->{stdin} .= "\\q\n";
	$self->{run}->finish;
	return;
}

package PgtlsAuditTest;

=pod

=item set_policy($node, %settings)

Set pgtls_audit.<name> to each value of %settings with ALTER SYSTEM (an
undefined value resets it), reload, and wait until a new session sees every
value, so that the next connection is judged by the new policy.  Values
must be spelled as pg_settings shows them: 'on', 'off', 'TLSv1.2', '256'.

=cut

sub set_policy
{
	my ($node, %settings) = @_;
	my (@sql, @expected);
	foreach my $name (sort keys %settings)
	{
		my $value = $settings{$name};
		if (defined $value)
		{
			(my $quoted = $value) =~ s/'/''/g;
			push @sql,      "ALTER SYSTEM SET pgtls_audit.$name = '$quoted';";
			push @expected, "(name = 'pgtls_audit.$name' AND setting = '$quoted')";
		}
		else
		{
			push @sql,      "ALTER SYSTEM RESET pgtls_audit.$name;";
			push @expected, "(name = 'pgtls_audit.$name' AND setting = boot_val)";
		}
	}
	$node->safe_psql('postgres', join("\n", @sql, 'SELECT pg_reload_conf();'));
	$node->poll_query_until('postgres',
		'SELECT count(*) = ' . scalar(@expected)
		  . ' FROM pg_settings WHERE ' . join(' OR ', @expected))
	  or croak "the policy was not reloaded: @sql";
	return;
}

=pod

=item refused_startup_packet($port, $user, $delay)

Over a raw TCP connection to 127.0.0.1:$port, after $delay microseconds
(if given), send a startup packet whose parameter list has no final
terminator: PostgreSQL reads the user name, then refuses the packet with a
FATAL before authentication ("invalid startup packet layout").  Waits for
the server to close the connection.

=cut

sub refused_startup_packet
{
	my ($port, $user, $delay) = @_;
	my $socket = IO::Socket::INET->new(
		PeerAddr => '127.0.0.1',
		PeerPort => $port,
		Proto    => 'tcp') or return;
	usleep($delay) if $delay;
	my $body = pack('N', 196608) . "user\0$user\0";
	syswrite($socket, pack('N', 4 + length($body)) . $body);
	my $reply;
	1 while sysread($socket, $reply, 8192);
	close $socket;
	return;
}

=pod

=item client_attempt($node, $pki, %opts)

Run psql once over TCP and wait for the audit lines of that client, told
apart from any other by a unique application_name.  %opts are tls_connstr's
options plus: openssl_conf (OPENSSL_CONF for this run only), sql (default
"SELECT 1") and attempts (the number of audit lines to expect, default 1;
2 when sslmode=prefer retries without TLS).  Returns a hash: ret, stdout,
stderr (psql's), lines (the parsed audit lines, in order), log (the server
log written meanwhile).

=cut

my $attempt_count = 0;

sub client_attempt
{
	my ($node, $pki, %opts) = @_;
	my $tag = $opts{application_name} //=
	  sprintf('pgtls_audit_test_%d', ++$attempt_count);
	my $connstr = tls_connstr($node, $pki, %opts);
	my $offset  = -s $node->logfile;

	local %ENV = %ENV;
	$ENV{OPENSSL_CONF} = $opts{openssl_conf} if defined $opts{openssl_conf};
	# The SQL goes on the command line, not to psql's input: a psql refused
	# at connection time exits without reading its input, and writing to it
	# then fails with EPIPE when the machine is busy.
	my ($ret, $stdout, $stderr) = $node->psql(
		'postgres', '',
		connstr      => $connstr,
		extra_params => [ '-w', '-c', $opts{sql} // 'SELECT 1' ]);

	# Without a FATAL from the server the client never reached
	# authentication (a handshake or libpq failure): no line will come.
	croak "$connstr failed before authentication: $stderr"
	  if $ret != 0 && $stderr !~ /FATAL:  /;

	# The backend writes its line before it answers the client, so the
	# lines are due when psql returns; poll briefly in case the log lags,
	# but do not wait long for a line that will never come.
	my $count    = $opts{attempts} // 1;
	my $deadline = time() + 10;
	my @lines;
	while (1)
	{
		@lines = grep { ($_->{application_name} // '') eq $tag }
		  audit_lines($node, $offset);
		last if @lines >= $count;
		croak "timed out waiting for $count pgtls_audit lines of $connstr, "
		  . "found " . scalar(@lines) . "; psql said: $stderr"
		  if time() > $deadline;
		usleep(100_000);
	}
	return {
		ret    => $ret,
		stdout => $stdout,
		stderr => $stderr,
		lines  => \@lines,
		log => PostgreSQL::Test::Utils::slurp_file($node->logfile, $offset)
	};
}

=pod

=item rejection_ok($result, $line, $message, $violations, $name)

Check that the client_attempt $result was refused by pgtls_audit for the
audit line $line: outcome=rejected with $violations (comma-separated), the
exact primary message $message on psql's stderr with the detail listing
every violation and a hint, and SQLSTATE 28000 in the server log (which
needs log_error_verbosity = verbose).

=cut

sub rejection_ok
{
	my ($result, $line, $message, $violations, $name) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	(my $detail = $violations) =~ s/,/, /g;

	isnt($result->{ret}, 0, "$name: connection refused");
	is($line->{outcome},    'rejected',  "$name: outcome=rejected");
	is($line->{violations}, $violations, "$name: violations=$violations");
	like($result->{stderr}, qr/ failed: FATAL:  \Q$message\E\n/,
		"$name: primary message");
	like(
		$result->{stderr},
		qr/\Q$message\E\nDETAIL:  This connection violates the server's connection security policy: \Q$detail\E\.\nHINT:  [A-Z][^\n]*\.(?:\n|\z)/,
		"$name: detail and hint");
	like($result->{log}, qr/\[$line->{pid}\] .*FATAL:  28000: \Q$message\E\n/,
		"$name: SQLSTATE 28000");
	return;
}

=pod

=item audit_allows_enforce_refuses($node, $pki, %args)

The proof that one policy knob works.  Under $args{policy} (a hash for
set_policy) in audit mode, the client $args{client} (client_attempt
options) is let in and logged with violations $args{violations}; in enforce
mode it is refused with the exact primary message $args{message}
(rejection_ok); and the client $args{compliant}, if given, still gets in
with no violation.  $args{name} names the tests.  Returns the audit line
of the session let in and that of the session refused.

=cut

sub audit_allows_enforce_refuses
{
	my ($node, $pki, %args) = @_;
	local $Test::Builder::Level = $Test::Builder::Level + 1;
	my $name = $args{name};

	set_policy($node, %{ $args{policy} // {} }, mode => 'audit');
	my $result = client_attempt($node, $pki, %{ $args{client} });
	my ($line) = @{ $result->{lines} };
	is($result->{ret}, 0, "$name: audit mode lets the session in")
	  or diag($result->{stderr});
	is($line->{outcome},    'accepted',         "$name: audit: outcome=accepted");
	is($line->{violations}, $args{violations}, "$name: audit: violations=$args{violations}");

	my $audit_line = $line;

	set_policy($node, mode => 'enforce');
	$result = client_attempt($node, $pki, %{ $args{client} });
	my $rejected_line = $result->{lines}[0];
	rejection_ok($result, $rejected_line, $args{message},
		$args{violations}, "$name: enforce");

	if ($args{compliant})
	{
		$result = client_attempt($node, $pki, %{ $args{compliant} });
		($line) = @{ $result->{lines} };
		is($result->{ret}, 0, "$name: enforce lets a compliant session in")
		  or diag($result->{stderr});
		is($line->{outcome},    'accepted', "$name: compliant: outcome=accepted");
		is($line->{violations}, '',         "$name: compliant: no violation");
	}
	return ($audit_line, $rejected_line);
}

1;
