
# Copyright (c) pgtls_audit contributors

# Display spoofing through the log line: Unicode format characters (general
# category Cf, the bidirectional controls U+202A-U+202E and U+2066-U+2069
# among them) in a user name are escaped like C1 controls, in text and
# JSON, whatever plane they are in; other non-ASCII text stays as it is.
# In JSON, a byte that is not valid UTF-8, a literal backslash-x sequence
# and a literal U+FFFD stay distinguishable once decoded, and the value can
# be recovered exactly.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('display', $pki);

# Every format character Perl's Unicode tables know.
my @format = grep { chr($_) =~ /\p{Cf}/ } 0 .. 0x10FFFF;
ok(scalar(grep { $_ >= 0x202A && $_ <= 0x202E || $_ >= 0x2066 && $_ <= 0x2069 }
		@format) == 9, 'the bidirectional controls are format characters');
ok(scalar(grep { $_ > 0xFFFF } @format) > 0, 'some beyond the BMP');

# The audit line of one failed login as $user (bytes).
sub line_of_user
{
	my ($user) = @_;
	(my $quoted = $user) =~ s/(['\\])/\\$1/g;
	my $result = PgtlsAuditTest::client_attempt($node, $pki,
		user => "'$quoted'", password => 'wrong', sslmode => 'disable');
	return $result->{lines}[0];
}

foreach my $format ('text', 'json')
{
	$node->safe_psql('postgres',
		"ALTER SYSTEM SET pgtls_audit.log_format = '$format'; SELECT pg_reload_conf()");
	$node->poll_query_until('postgres',
		"SELECT current_setting('pgtls_audit.log_format') = '$format'")
	  or die "log_format was not reloaded";

	# Twelve format characters (at most 48 bytes) per user name.
	my ($escaped, $exact, $count) = (0, 0, 0);
	for (my $i = 0; $i < @format; $i += 12)
	{
		my @chunk = @format[ $i .. ($i + 11 < $#format ? $i + 11 : $#format) ];
		my $user = join('', 'u', map { chr } @chunk);
		utf8::encode($user);
		my $line = line_of_user($user);
		my $raw = $line->{_line};
		utf8::decode($raw);
		$count++;
		$escaped++ unless $raw =~ /\p{Cf}/;
		$exact++ if $line->{user} eq $user;
		diag(sprintf('%s: format character left in: %s', $format,
				join(' ', map { sprintf('U+%04X', ord) } $raw =~ /(\p{Cf})/g)))
		  if $raw =~ /\p{Cf}/;
	}
	is($escaped, $count, "$format: every format character is escaped ($count names)");
	is($exact, $count, "$format: and reads back exactly");

	# What is not a format character stays readable.
	my $plain = "Ñandú 李 🔐 Ελληνικά";    # UTF-8 bytes: no "use utf8"
	my $line = line_of_user($plain);
	like($line->{_line}, qr/\Q$plain\E/, "$format: other non-ASCII text as it is");

	# A right-to-left override cannot make the line read otherwise.
	my $spoof = "admin\x{202E}\x{2066}gnp.exe\x{2069}";
	utf8::encode($spoof);
	$line = line_of_user($spoof);
	like($line->{_line}, qr/admin\\u202e\\u2066gnp\.exe\\u2069/,
		"$format: bidirectional controls as \\uHHHH");

	# A tag character, beyond the BMP.
	my $tag = "tag\x{E0041}";
	utf8::encode($tag);
	$line = line_of_user($tag);
	like($line->{_line},
		$format eq 'json' ? qr/tag\\udb40\\udc41/ : qr/tag\\U000e0041/,
		"$format: a format character beyond the BMP");
	is($line->{user}, $tag, "$format: and it reads back");
}

# JSON: an invalid byte against its look-alikes.  Decoding the JSON string
# and then U+FFFD U+FFFD -> U+FFFD, U+FFFD HH -> the byte HH gives the
# value back.
sub recover
{
	my ($decoded) = @_;    # UTF-8 bytes of the decoded JSON string
	utf8::decode($decoded);
	my $out = '';
	while ($decoded =~ /\G(?:\x{FFFD}\x{FFFD}|\x{FFFD}([0-9a-f]{2})|(.))/gs)
	{
		if (defined $1) { $out .= chr(hex($1)); }
		elsif (defined $2)
		{
			my $c = $2;
			utf8::encode($c);
			$out .= $c;
		}
		else
		{
			my $c = "\x{FFFD}";
			utf8::encode($c);
			$out .= $c;
		}
	}
	return $out;
}

my $replacement = "\x{FFFD}";
utf8::encode($replacement);
my %values = (
	'invalid byte'          => "a\xe9b",
	'literal backslash-x'   => 'a\\xe9b',
	'literal U+FFFD and e9' => "a${replacement}e9b",
	'literal U+FFFD'        => "a${replacement}b");
my %decoded;
foreach my $name (sort keys %values)
{
	my $line = line_of_user($values{$name});
	$decoded{$name} = $line->{user};
	is(recover($line->{user}), $values{$name}, "json: $name recovered exactly");
	unlike($line->{_line}, qr/[\x80-\xff]/, "json: $name: no raw byte above 0x7f")
	  if $name eq 'invalid byte';
}
my %seen;
$seen{ $decoded{$_} }++ foreach keys %decoded;
is(scalar(keys %seen), 4, 'json: the four values decode to four strings');
isnt($decoded{'invalid byte'}, $decoded{'literal backslash-x'},
	'json: an invalid byte is not a literal \\x');

unlike(slurp_file($node->logfile), qr/WARNING|PANIC|server process .* terminated/,
	'no warning, no crash');
$node->stop;
done_testing();
