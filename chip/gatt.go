package chip

// The chip's Bluetooth LE GATT service. The page writes request chunks to
// RequestCharacteristic (write with response) and receives response chunks as
// notifications of ResponseCharacteristic. 128-bit UUIDs because the service is not
// a Bluetooth SIG standard one.
const (
	ServiceUUID            = "7a1d0001-5c3e-4b8e-9f6a-2d4c8b1e0f37"
	RequestCharacteristic  = "7a1d0002-5c3e-4b8e-9f6a-2d4c8b1e0f37"
	ResponseCharacteristic = "7a1d0003-5c3e-4b8e-9f6a-2d4c8b1e0f37"
)
