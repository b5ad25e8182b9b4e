package web

import (
	"strconv"
	"strings"
)

// chooseEncoding picks the content coding to send for an Accept-Encoding header value
// (RFC 9110 §12.5.3): "br", "gzip", or "" for the file as it is. The acceptable coding
// with the highest q wins, brotli on a tie; q=0 refuses a coding, "*" stands for the
// codings not named. The file as it is wins only over codings the client rates lower
// than an explicit identity; a client that refuses identity too gets it anyway, as a
// 406 would only leave the page blank.
func chooseEncoding(header string, haveBr, haveGzip bool) string {
	qBr, qGzip, qIdentity, qStar := -1.0, -1.0, -1.0, -1.0
	for part := range strings.SplitSeq(header, ",") {
		coding, q, ok := parseCoding(part)
		if !ok {
			continue
		}
		switch coding {
		case "br":
			qBr = q
		case "gzip", "x-gzip":
			qGzip = q
		case "identity":
			qIdentity = q
		case "*":
			qStar = q
		}
	}
	if qBr < 0 {
		qBr = qStar
	}
	if qGzip < 0 {
		qGzip = qStar
	}
	best, bestQ := "", 0.0
	if haveBr && qBr > bestQ {
		best, bestQ = "br", qBr
	}
	if haveGzip && qGzip > bestQ {
		best, bestQ = "gzip", qGzip
	}
	if best != "" && qIdentity > bestQ {
		return ""
	}
	return best
}

// parseCoding reads one element of Accept-Encoding: a coding, lowercased, and its q
// (1 when not given). ok is false for an empty or malformed element, which is ignored.
func parseCoding(part string) (coding string, q float64, ok bool) {
	coding, params, _ := strings.Cut(part, ";")
	coding = strings.ToLower(strings.TrimSpace(coding))
	if coding == "" {
		return "", 0, false
	}
	q = 1
	for p := range strings.SplitSeq(params, ";") {
		k, v, found := strings.Cut(p, "=")
		if !found || !strings.EqualFold(strings.TrimSpace(k), "q") {
			continue
		}
		// RFC 9110 §12.4.2: at most three decimals, between 0 and 1. ParseFloat alone
		// would take "NaN", "1e0" and "0x1p-2".
		v = strings.TrimSpace(v)
		if len(v) == 0 || len(v) > 5 || strings.ContainsFunc(v, func(r rune) bool { return (r < '0' || r > '9') && r != '.' }) {
			return "", 0, false
		}
		f, err := strconv.ParseFloat(v, 64)
		if err != nil || f < 0 || f > 1 {
			return "", 0, false
		}
		q = f
	}
	return coding, q, true
}

// etagMatches applies If-None-Match (RFC 9110 §13.1.2): "*" or any listed tag equal to
// etag under weak comparison, which ignores a W/ prefix.
func etagMatches(headers []string, etag string) bool {
	for _, h := range headers {
		for tag := range strings.SplitSeq(h, ",") {
			tag = strings.TrimSpace(tag)
			if tag == "*" || strings.TrimPrefix(tag, "W/") == etag {
				return true
			}
		}
	}
	return false
}
