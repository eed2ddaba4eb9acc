"""Network boot: OSCAR's DHCP / proxy DHCP and TFTP (dnsmasq), its HTTP server (lighttpd) and
GRUB's network images, started and stopped as one service."""
