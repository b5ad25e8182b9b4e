// Package web is the activation page: HTML, CSS, plain JS modules and the message
// catalogues, which server/web publishes. The Go here only tests those sources.
package web
