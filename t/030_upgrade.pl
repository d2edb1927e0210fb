# Copyright (c) pgtls_audit contributors

# Upgrades.  For every released version of the extension (every version its
# SQL scripts in this tree name, other than the control file's default):
# CREATE EXTENSION ... VERSION, query every view and every function without
# arguments through the library of this tree (the new library must keep
# serving the old SQL version until the update), ALTER EXTENSION ... UPDATE,
# and compare the result with a fresh install of the default version:
# members, view definitions, function signatures and definitions (C symbol,
# volatility, parallel safety), the columns of every relation and composite
# type, privileges and initial privileges, comments.  Nothing here names an
# object: objects added by later upgrade scripts are compared the same way.
# CREATE EXTENSION ... VERSION also proves that every C symbol an old
# version declares is still in the library (the C validator looks each one
# up).  Finally a function declared with columns the library does not fill
# fails with a clear error instead of building a wrong row.

use strict;
use warnings;

use File::Basename qw(dirname);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

use PgtlsAuditTest;

# The versions named by the scripts of the source tree.
my $srcdir = dirname(dirname(__FILE__));
my (%versions, $default);
foreach my $script (glob("$srcdir/pgtls_audit--*.sql"))
{
	my ($names) = $script =~ m{pgtls_audit--(.+)\.sql$};
	$versions{$_} = 1 foreach split /--/, $names;
}
open my $control, '<', "$srcdir/pgtls_audit.control"
  or die "could not open pgtls_audit.control: $!";
while (<$control>)
{
	$default = $1 if /^default_version\s*=\s*'([^']+)'/;
}
close $control;
ok(defined $default && $versions{$default},
	"the default version ($default) is reached by the scripts");
my @old = sort { version_key($a) cmp version_key($b) }
  grep { $_ ne $default } keys %versions;
ok(@old > 0, 'there is at least one earlier version: ' . join(', ', @old));

sub version_key
{
	return join('.', map { sprintf '%06d', $_ } split /\./, shift);
}

my $pki = PgtlsAuditTest::make_pki();
my $node = PgtlsAuditTest::tls_node('upgrade', $pki);
PgtlsAuditTest::create_roles($node, 'alice');

# Every version must be one the server can install.
my $available = $node->safe_psql('postgres',
	"SELECT string_agg(version, ' ' ORDER BY version) "
	  . "FROM pg_available_extension_versions WHERE name = 'pgtls_audit'");
foreach my $version (sort keys %versions)
{
	like(" $available ", qr/ \Q$version\E /,
		"version $version is installed on the server");
}

# A few attempts, so that the views have rows to build: a TLS login, a
# failed password, a plaintext login.
foreach my $attempt (
	[ 'TLS', sslmode => 'require', password => 'alice-secret' ],
	[ 'wrong password', sslmode => 'require', password => 'wrong' ],
	[ 'plaintext', sslmode => 'disable', password => 'alice-secret' ])
{
	my ($name, %opts) = @$attempt;
	$node->psql(
		'postgres', 'SELECT 1',
		connstr => PgtlsAuditTest::tls_connstr($node, $pki, user => 'alice', %opts));
}

# The state of the extension in a database, as sorted lines of text that do
# not depend on OIDs: what a fresh install and an update must agree on.
my $describe = q{
WITH ext AS (
	SELECT oid, extnamespace FROM pg_extension WHERE extname = 'pgtls_audit'
), members AS (
	SELECT d.classid, d.objid, d.objsubid
	  FROM pg_depend d, ext
	 WHERE d.refclassid = 'pg_extension'::regclass AND d.refobjid = ext.oid
	   AND d.deptype = 'e'
), in_schema AS (
	SELECT 'pg_class'::regclass AS classid, c.oid AS objid
	  FROM pg_class c, ext WHERE c.relnamespace = ext.extnamespace
	UNION ALL
	SELECT 'pg_proc'::regclass, p.oid
	  FROM pg_proc p, ext WHERE p.pronamespace = ext.extnamespace
	UNION ALL
	SELECT 'pg_type'::regclass, t.oid
	  FROM pg_type t, ext WHERE t.typnamespace = ext.extnamespace
)
SELECT line FROM (
	SELECT format('extension version %s schema %s relocatable %s config %s %s',
				  e.extversion, e.extnamespace::regnamespace, e.extrelocatable,
				  e.extconfig::regclass[], e.extcondition) AS line
	  FROM pg_extension e WHERE e.extname = 'pgtls_audit'
	UNION ALL
	SELECT 'member ' || pg_describe_object(classid, objid, objsubid)
	  FROM members
	UNION ALL
	SELECT 'in schema ' || pg_describe_object(classid, objid, 0)
	  FROM in_schema
	UNION ALL
	SELECT format('schema %s owner %s acl %s', n.nspname,
				  n.nspowner::regrole, n.nspacl)
	  FROM pg_namespace n, ext WHERE n.oid = ext.extnamespace
	UNION ALL
	SELECT format('function %s returns %s acl %s definition %s',
				  p.oid::regprocedure, pg_get_function_result(p.oid),
				  p.proacl, pg_get_functiondef(p.oid))
	  FROM pg_proc p, ext WHERE p.pronamespace = ext.extnamespace
	UNION ALL
	SELECT format('relation %s kind %s owner %s acl %s options %s',
				  c.oid::regclass, c.relkind, c.relowner::regrole, c.relacl,
				  c.reloptions)
	  FROM pg_class c, ext WHERE c.relnamespace = ext.extnamespace
	UNION ALL
	SELECT format('view %s definition %s', c.oid::regclass, pg_get_viewdef(c.oid))
	  FROM pg_class c, ext
	 WHERE c.relnamespace = ext.extnamespace AND c.relkind IN ('v', 'm')
	UNION ALL
	-- Columns by position among the live ones: a type altered by an update
	-- keeps dropped attributes that a fresh one does not have.
	SELECT format('column %s #%s %s %s not null %s collation %s acl %s',
				  a.attrelid::regclass,
				  row_number() OVER (PARTITION BY a.attrelid ORDER BY a.attnum),
				  a.attname, format_type(a.atttypid, a.atttypmod),
				  a.attnotnull, a.attcollation::regcollation, a.attacl)
	  FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid, ext
	 WHERE c.relnamespace = ext.extnamespace AND a.attnum > 0
	   AND NOT a.attisdropped
	UNION ALL
	SELECT format('type %s kind %s owner %s acl %s', t.oid::regtype,
				  t.typtype, t.typowner::regrole, t.typacl)
	  FROM pg_type t, ext WHERE t.typnamespace = ext.extnamespace
	UNION ALL
	SELECT format('initial privileges of %s (%s) %s',
				  pg_describe_object(i.classoid, i.objoid, i.objsubid),
				  i.privtype, i.initprivs)
	  FROM pg_init_privs i
	  JOIN (SELECT classid, objid FROM in_schema
			UNION ALL
			SELECT 'pg_namespace'::regclass, extnamespace FROM ext) o
		ON o.classid = i.classoid AND o.objid = i.objoid
	UNION ALL
	SELECT format('comment on %s: %s',
				  pg_describe_object(d.classoid, d.objoid, d.objsubid),
				  d.description)
	  FROM pg_description d
	  JOIN (SELECT classid, objid FROM in_schema
			UNION ALL
			SELECT 'pg_namespace'::regclass, extnamespace FROM ext
			UNION ALL
			SELECT 'pg_extension'::regclass, oid FROM ext) o
		ON o.classid = d.classoid AND o.objid = d.objoid
) lines
ORDER BY line COLLATE "C"
};

sub describe
{
	my ($dbname) = @_;
	my $out = $node->safe_psql($dbname, $describe);
	return [ split /\n/, $out ];
}

# Differences between two descriptions, one message per line.
sub differences
{
	my ($got, $expected) = @_;
	my (%got, %expected);
	$got{$_}++ foreach @$got;
	$expected{$_}++ foreach @$expected;
	return (
		(map { "only after the update: $_" } grep { !$expected{$_} } @$got),
		(map { "only in a fresh install: $_" } grep { !$got{$_} } @$expected));
}

# Query every view and call every function without arguments of the
# extension as it is installed in $dbname.
sub exercise
{
	my ($dbname, $label) = @_;
	my $objects = $node->safe_psql(
		$dbname, q{
SELECT 'SELECT count(*) FROM ' || c.oid::regclass
  FROM pg_class c JOIN pg_extension e ON c.relnamespace = e.extnamespace
 WHERE e.extname = 'pgtls_audit' AND c.relkind = 'v'
UNION ALL
SELECT 'SELECT count(*) FROM ' || p.oid::regproc || '()'
  FROM pg_proc p JOIN pg_extension e ON p.pronamespace = e.extnamespace
 WHERE e.extname = 'pgtls_audit' AND p.pronargs = 0 AND p.proretset
UNION ALL
SELECT 'SELECT ' || p.oid::regproc || '() IS NULL'
  FROM pg_proc p JOIN pg_extension e ON p.pronamespace = e.extnamespace
 WHERE e.extname = 'pgtls_audit' AND p.pronargs = 0 AND NOT p.proretset
   AND p.prorettype <> 'void'::regtype
ORDER BY 1});
	my @queries = split /\n/, $objects;
	ok(@queries >= 6, "$label: " . scalar(@queries) . ' views and functions');
	foreach my $query (@queries)
	{
		my ($ret, $stdout, $stderr) = $node->psql($dbname, $query);
		is($ret, 0, "$label: $query")
		  or diag($stderr);
	}
	return;
}

$node->safe_psql('postgres', 'CREATE DATABASE fresh');
$node->safe_psql('fresh', 'CREATE EXTENSION pgtls_audit');
is($node->safe_psql('fresh',
		"SELECT extversion FROM pg_extension WHERE extname = 'pgtls_audit'"),
	$default, "a fresh install is at version $default");
exercise('fresh', "fresh $default");
my $fresh = describe('fresh');
ok(scalar(grep { /^member / } @$fresh) >= 10,
	'the fresh install has ' . scalar(grep { /^member / } @$fresh) . ' members');
ok(scalar(grep { /^view / } @$fresh) >= 6, 'the description includes views');

foreach my $version (@old)
{
	(my $dbname = "from_$version") =~ s/\W/_/g;
	$node->safe_psql('postgres', "CREATE DATABASE $dbname");
	$node->safe_psql($dbname,
		"CREATE EXTENSION pgtls_audit VERSION '$version'");
	exercise($dbname, "$version served by the new library");

	$node->safe_psql($dbname, 'ALTER EXTENSION pgtls_audit UPDATE');
	is($node->safe_psql($dbname,
			"SELECT extversion FROM pg_extension WHERE extname = 'pgtls_audit'"),
		$default, "$version updates to $default");
	my @diff = differences(describe($dbname), $fresh);
	is(scalar(@diff), 0,
		"$version updated to $default equals a fresh install of $default")
	  or diag(join("\n", @diff));
	exercise($dbname, "$version updated to $default");
}

# A declaration whose columns the library does not fill.
my ($ret, $stdout, $stderr) = $node->psql(
	'postgres', q{
CREATE FUNCTION public.wrong_summary(OUT user_name text, OUT count bigint)
RETURNS SETOF record AS '$libdir/pgtls_audit', 'pgtls_audit_summary'
LANGUAGE C STRICT;
SELECT * FROM public.wrong_summary();
});
isnt($ret, 0, 'a declaration with other columns fails');
like(
	$stderr,
	qr/ERROR:  function (public\.)?wrong_summary\(\) returns 2 columns where the pgtls_audit library fills 9\n.*HINT:  Run ALTER EXTENSION pgtls_audit UPDATE/s,
	'and says what to do');

$node->stop;
done_testing();
