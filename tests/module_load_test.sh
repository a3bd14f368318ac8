#!/bin/sh
# Module load/unload, and the device node it creates.
ko=${MIGSEND_KO:-/lib/modules/$(uname -r)/migsend.ko}
n=0 fails=0
result() { # result OK|FAIL name
	n=$((n + 1))
	if [ "$1" = OK ]; then echo "ok $n $2"; else echo "not ok $n $2"; fails=$((fails + 1)); fi
}
echo "TAP version 13"
echo "1..5"
if insmod "$ko"; then result OK load; else result FAIL load; fi
if [ -c /dev/migsend ]; then result OK device_node; else result FAIL device_node; fi
if [ "$(stat -c %a /dev/migsend 2>/dev/null)" = 600 ]; then result OK device_mode_0600; else result FAIL device_mode_0600; fi
if rmmod migsend && [ ! -e /sys/module/migsend ]; then result OK unload; else result FAIL unload; fi
if insmod "$ko" && [ -c /dev/migsend ]; then result OK reload; else result FAIL reload; fi
[ $fails -eq 0 ]
