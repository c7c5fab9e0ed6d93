package votequorum

import (
	"github.com/corosync-go/corosync/internal/session"
)

type config struct {
	session.Options
}
