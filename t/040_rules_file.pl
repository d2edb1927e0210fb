# Copyright (c) pgtls_audit contributors

# The rules file as a file: a relative path, comments and blank lines, the
# first matching rule wins, every kind of error reported with the file name
# and line number, a reload with a broken file keeping the rules in force,
# and a server start with a broken file failing closed.

use strict;
use warnings;

use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use Time::HiRes qw(usleep);

use PgtlsAuditTest;

my $pki  = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('rules_file', $pki);
PgtlsAuditTest::create_roles($node, 'alice', 'bob');

my %alice = (user => 'alice', password => 'alice-secret');
my %bob   = (user => 'bob',   password => 'bob-secret');

# Write the rules file (relative to the data directory) in place.
sub write_rules
{
	my ($name, $text) = @_;
	open my $fh, '>', $node->data_dir . "/$name" or die "$name: $!";
	print $fh $text;
	close $fh;
	return;
}

# Reload and wait until the postmaster has logged what it made of it.
sub reload_and_wait_for
{
	my ($pattern) = @_;
	my $offset = -s $node->logfile;
	$node->reload;
	ok($node->wait_for_log($pattern, $offset), "reload logs $pattern");
	return;
}

# The rule_line of one attempt (undef: the GUCs judged it).
sub rule_line_of
{
	my (%client) = @_;
	my $result = PgtlsAuditTest::client_attempt($node, $pki, %client);
	return $result->{lines}[0]{rule_line};
}

# Rules in force: a comment, a blank line, and two rules that both match
# alice; the first wins.
write_rules('rules_1.conf', <<'EOF');
# database  user   address      settings
all         alice  127.0.0.1/32 min_cipher_bits=128

all         alice  all          mode=enforce min_cipher_bits=512
all         all    all
EOF
PgtlsAuditTest::set_policy($node, rules_file => 'rules_1.conf');

is(rule_line_of(%alice), 2, 'the first matching rule wins, lines counted with comments and blanks');
is(rule_line_of(%alice, ipv6 => 1), 4, 'a rule for another address is skipped');
is(rule_line_of(%bob), 5, 'a catch-all without settings matches');
like(
	PgtlsAuditTest::client_attempt($node, $pki, %alice, ipv6 => 1)->{stderr},
	qr/cipher TLS_AES_256_GCM_SHA384 has 256 bits, below the allowed minimum of 512/,
	'the rule\'s settings judge: its mode and minimum refuse the attempt');

# Every kind of error, at reload: the old rules stay in force, the log
# names the file and the line.
my @broken = (
	[ "all alice all mode=audit\nall all all nosuch=1\n", 2, 'unrecognized setting "nosuch"' ],
	[ "all alice all mode=sometimes\n", 1, 'invalid value for setting "mode": "sometimes"' ],
	[ "all alice all min_cipher_bits=2000\n", 1, 'invalid value for setting "min_cipher_bits": "2000"' ],
	[ "all alice all require_ssl=perhaps\n", 1, 'invalid value for setting "require_ssl": "perhaps"' ],
	[ "all alice all ciphers=NO-SUCH-CIPHER\n", 1, 'OpenSSL selects no cipher for the cipher string "NO-SUCH-CIPHER"' ],
	[ "all alice all forbidden_auth_methods=kerberos4\n", 1, 'unrecognized authentication method: "kerberos4"' ],
	[ "all alice all min_cert_rsa_bits=20000\n", 1, 'invalid value for setting "min_cert_rsa_bits": "20000"' ],
	[ "all alice all min_cert_ec_bits=-1\n", 1, 'invalid value for setting "min_cert_ec_bits": "-1"' ],
	[ "all alice all forbidden_cert_signature_algorithms=sha-1\n", 1, 'unrecognized signature digest algorithm: "sha-1"' ],
	[ "all alice all cert_subject=/CN=(unclosed\n", 1, 'invalid regular expression "CN=(unclosed": parentheses () not balanced' ],
	[ "all alice 10.0.0.300/8\n", 1, 'invalid IP address "10.0.0.300"' ],
	[ "all alice 10.0.0.0/33\n", 1, 'invalid CIDR mask in address "10.0.0.0/33"' ],
	[ "all alice 10.0.0.0\n", 1, 'end-of-line before netmask specification' ],
	[ "all alice 10.0.0.0 ffff::\n", 1, 'IP address and mask do not match' ],
	[ "# nothing\nall alice\n", 2, 'end-of-line before address' ],
	[ "all \"alice all\n", 1, 'unterminated quoted string' ],
	[ "all alice,,bob all\n", 1, 'empty element in a comma-separated list' ],
	[ "all alice all mode=audit mode=enforce\n", 1, 'setting "mode" is given more than once' ],
	[ "all alice all enforce\n", 1, 'invalid setting "enforce": expected name=value' ],
	[ "all alice all cert_issuer=\n", 1, 'a distinguished name or a regular expression must not be empty' ],);
foreach my $case (@broken)
{
	my ($text, $line, $message) = @$case;
	write_rules('rules_1.conf', $text);
	reload_and_wait_for(
		qr/could not load pgtls_audit rules file "rules_1\.conf"; the rules in force are kept\n.*DETAIL:  Line $line: \Q$message\E\./
	);
}
is(rule_line_of(%alice), 2, 'after every broken reload the old rules are in force');

# An unreadable file is an error too.
unlink $node->data_dir . '/rules_1.conf';
reload_and_wait_for(
	qr/could not load pgtls_audit rules file "rules_1\.conf"; the rules in force are kept\n.*DETAIL:  Could not open file "rules_1\.conf": No such file or directory\./
);
is(rule_line_of(%alice), 2, 'a missing file keeps the old rules too');

# A good file at the same path is taken at the next reload.
write_rules('rules_1.conf', "all alice all\n");
$node->reload;
my $deadline = time() + 60;
my $line;
while (time() < $deadline)
{
	$line = rule_line_of(%alice);
	last if defined $line && $line == 1;
	usleep(100_000);
}
is($line, 1, 'an edited file is read again at reload');

# ALTER SYSTEM checks the file before writing postgresql.auto.conf.
write_rules('rules_2.conf', "all all all nosuch=1\n");
my ($ret, $stdout, $stderr) = $node->psql('postgres',
	"ALTER SYSTEM SET pgtls_audit.rules_file = 'rules_2.conf'");
isnt($ret, 0, 'ALTER SYSTEM refuses a broken rules file');
like($stderr, qr/Line 1: unrecognized setting "nosuch"/,
	'and says which line is wrong');

# Rules are read once per configuration, not per connection: a file
# changed on disk changes nothing until the next reload.
write_rules('rules_1.conf', "all all all mode=enforce min_cipher_bits=512\n");
is(rule_line_of(%alice), 1, 'an edit without reload changes nothing');
write_rules('rules_1.conf', "all alice all\n");

# A server start with a broken file fails with the line number.
$node->stop;
write_rules('rules_1.conf', "all alice all\nall all 300.0.0.1/32\n");
my $offset = -s $node->logfile;
ok(!$node->start(fail_ok => 1), 'a server with a broken rules file does not start');
ok( $node->wait_for_log(
		qr/FATAL:  could not load pgtls_audit rules file "rules_1\.conf"\n.*DETAIL:  Line 2: invalid IP address "300\.0\.0\.1"\./,
		$offset),
	'the start failure names the file and the line');

write_rules('rules_1.conf', "all alice all\n");
$node->start;
is(rule_line_of(%alice), 1, 'fixed, the server starts with its rules');

$node->stop;
done_testing();
