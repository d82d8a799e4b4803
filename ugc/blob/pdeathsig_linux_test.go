package blob

import (
	"os/exec"
	"syscall"
)

// dieWithParent makes the S3 server die with the test binary, even when
// the binary is killed before TestMain can stop it.
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
