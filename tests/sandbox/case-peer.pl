#!/usr/bin/perl
# A peer that does not behave, for tests/sandbox/case.sh: listens on the D-Bus socket path
# given and on 127.0.0.1:8080, then to every connection
#   hang:    says nothing and keeps it open;
#   hangup:  closes it at once;
#   garbage: sends random bytes, then keeps it open.
# Prints "ready" once listening. Ends with the case's PID namespace.
use strict;
use warnings;
use IO::Socket::UNIX;
use IO::Socket::INET;
use IO::Select;
use Socket qw(SOCK_STREAM);

my ($mode, $path) = @ARGV;
my @listen;
push @listen, IO::Socket::UNIX->new(Type => SOCK_STREAM, Local => $path, Listen => 64)
  or die "listen $path: $!";
my $tcp = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 8080, Listen => 64,
  ReuseAddr => 1, Proto => 'tcp');
push @listen, $tcp if $tcp;
$| = 1;
print "ready\n";
my $sel = IO::Select->new(@listen);
my @kept;
while (1) {
  for my $s ($sel->can_read) {
    my $c = $s->accept or next;
    if ($mode eq 'hangup') { close $c; next }
    if ($mode eq 'garbage') {
      open(my $r, '<', '/dev/urandom') or next;
      my $junk = '';
      sysread($r, $junk, 2048);
      close $r;
      syswrite($c, "HTTP/1.1 200 OK\r\nContent-Length: 99999\r\n\r\n") if $s == ($tcp // 0);
      syswrite($c, $junk);
    }
    push @kept, $c;
  }
}
