#!/bin/sh
# Every store backend keeps its names to itself: the objects built from
# src/store/<backend>/ export only names under that backend's prefix and its
# one table, store_backend_<backend>. So two backends link side by side
# without a duplicate symbol, whatever their files are called.
# Usage: store_symbols.sh OBJECT... (the meetdlib objects; others are skipped)
# Prefixes: sqlite/ lite_, postgres/ pgsql_.
status=0
for obj in "$@"; do
    case "$obj" in
    */src/store/sqlite/*) prefix=lite_ table=store_backend_sqlite ;;
    */src/store/postgres/*) prefix=pgsql_ table=store_backend_postgres ;;
    *) continue ;;
    esac
    bad=$(nm -g --defined-only "$obj" | awk 'NF == 3 { print $3 }' |
          grep -v -e "^$prefix" -e "^$table\$")
    if [ -n "$bad" ]; then
        echo "$obj exports names outside $prefix: $bad"
        status=1
    fi
done
exit $status
