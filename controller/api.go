package controller

import "github.com/symdist/symdist/tmapi"

// The admin API's types and client live in package tmapi, which TMs import
// without linking the controller; these names keep the controller's own
// code and its callers short.
type (
	Status       = tmapi.Status
	SwitchStatus = tmapi.SwitchStatus
	GroupStatus  = tmapi.GroupStatus
	TMStatus     = tmapi.TMStatus
	BucketTable  = tmapi.BucketTable
	Client       = tmapi.Client
	HTTPError    = tmapi.HTTPError
)
