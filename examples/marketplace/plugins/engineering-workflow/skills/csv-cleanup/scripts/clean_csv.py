#!/usr/bin/env python3
"""Clean a messy CSV export into a predictable UTF-8, comma-separated file.

Standard library only. Writes the cleaned CSV and prints a JSON report of what changed
on stderr, so the caller can tell the user exactly what was done.

Usage:
    python3 clean_csv.py INPUT.csv -o OUTPUT.csv [--dates col1,col2] [--day-first] [--keep-duplicates]
"""

import argparse
import csv
import io
import json
import re
import sys
from datetime import datetime

CANDIDATE_DELIMITERS = [",", ";", "\t", "|"]
# Tried in order; the ambiguous slash form is added by --day-first / month-first below.
DATE_FORMATS = ["%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%d %b %Y", "%d %B %Y", "%b %d, %Y", "%B %d, %Y"]


def read_text(path):
    """Return the file's text, decoding UTF-8 (with or without BOM), else Windows-1252."""
    raw = open(path, "rb").read()
    try:
        return raw.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        return raw.decode("cp1252", errors="replace"), "cp1252"


def normalise_headers(headers):
    """snake_case every header and make duplicates unique with a numeric suffix."""
    seen, result = {}, []
    for index, header in enumerate(headers):
        name = re.sub(r"[^0-9a-z]+", "_", header.strip().lower()).strip("_") or f"column_{index + 1}"
        seen[name] = seen.get(name, 0) + 1
        result.append(name if seen[name] == 1 else f"{name}_{seen[name]}")
    return result


def guess_delimiter(text):
    """The candidate seen most often in the header line.

    csv.Sniffer looks at row-to-row consistency, which is exactly what broken exports lack;
    the header line is the one line such files reliably get right.
    """
    header = next((line for line in text.splitlines() if line.strip()), "")
    counts = {d: header.count(d) for d in CANDIDATE_DELIMITERS}
    best = max(counts, key=counts.get)
    return best if counts[best] else ","


def to_iso_date(value, formats):
    for fmt in formats:
        try:
            return datetime.strptime(value, fmt).date().isoformat()
        except ValueError:
            continue
    return None


def clean(text, date_columns, day_first, keep_duplicates):
    delimiter = guess_delimiter(text)
    rows = list(csv.reader(io.StringIO(text), delimiter=delimiter))
    if not rows:
        raise SystemExit("error: the input file is empty")

    headers = normalise_headers(rows[0])
    formats = DATE_FORMATS + (["%d/%m/%Y"] if day_first else ["%m/%d/%Y"])
    date_indexes = [headers.index(c) for c in date_columns if c in headers]
    report = {
        "delimiter": delimiter,
        "headers": headers,
        "rows_in": len(rows) - 1,
        "empty_rows_dropped": 0,
        "short_rows_padded": 0,
        "long_rows_skipped": [],
        "duplicates_dropped": 0,
        "dates_converted": 0,
        "dates_unparsed": [],
        "unknown_date_columns": [c for c in date_columns if c not in headers],
    }

    cleaned, seen = [], set()
    for line_no, row in enumerate(rows[1:], start=2):
        row = [cell.strip() for cell in row]
        if not any(row):
            report["empty_rows_dropped"] += 1
            continue
        if len(row) > len(headers):
            report["long_rows_skipped"].append(line_no)
            continue
        if len(row) < len(headers):
            report["short_rows_padded"] += 1
            row += [""] * (len(headers) - len(row))
        for i in date_indexes:
            if row[i]:
                iso = to_iso_date(row[i], formats)
                if iso is None:
                    report["dates_unparsed"].append({"line": line_no, "column": headers[i], "value": row[i]})
                elif iso != row[i]:
                    row[i] = iso
                    report["dates_converted"] += 1
        key = tuple(row)
        if not keep_duplicates and key in seen:
            report["duplicates_dropped"] += 1
            continue
        seen.add(key)
        cleaned.append(row)

    report["rows_out"] = len(cleaned)
    return headers, cleaned, report


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("input")
    parser.add_argument("-o", "--output", required=True)
    parser.add_argument("--dates", default="", help="comma-separated column names (after normalisation)")
    parser.add_argument("--day-first", action="store_true", help="read 03/04/2024 as 3 April")
    parser.add_argument("--keep-duplicates", action="store_true")
    args = parser.parse_args(argv)

    text, encoding = read_text(args.input)
    date_columns = [c.strip() for c in args.dates.split(",") if c.strip()]
    headers, rows, report = clean(text, date_columns, args.day_first, args.keep_duplicates)
    report["encoding_in"] = encoding

    with open(args.output, "w", encoding="utf-8", newline="") as out:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(headers)
        writer.writerows(rows)

    json.dump(report, sys.stderr, indent=2)
    sys.stderr.write("\n")


if __name__ == "__main__":
    main()
