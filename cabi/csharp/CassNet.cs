// CassNet.cs: P/Invoke declarations of libcassnet (cabi/include/cassnet.h)
// for Unity and other .NET hosts. Put libcassnet.so (Linux),
// libcassnet.dylib or cassnet.dll in the plugin folder.
//
// Callbacks arrive on a library thread: marshal to the main thread (for
// example through a ConcurrentQueue drained in Update) before touching
// Unity objects, and keep the delegates alive (in a static field) for as
// long as the handle lives, or the GC will collect them.
using System;
using System.Runtime.InteropServices;

namespace CassandraNet
{
    public enum CnStatus : int
    {
        Ok = 0,
        Stale = 1,
        InvalidArgument = 2,
        UnknownHandle = 3,
        TooLarge = 4,
        Unauthenticated = 5,
        PermissionDenied = 6,
        NotFound = 7,
        Unavailable = 8,
        SessionInvalid = 9,
        SessionExpired = 10,
        SessionRevoked = 11,
        Banned = 12,
        Internal = 13,
        Conflict = 14,
    }

    public enum CnServerState : int
    {
        Starting = 1,
        Ready = 2,
        Allocated = 3,
        Draining = 4,
    }

    public enum CnEventKind : int
    {
        Kick = 1,
        Drain = 2,
        NodeLeaving = 3,
        Disconnected = 4,
        Reconnected = 5,
        Allocated = 6,
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CnConfig
    {
        [MarshalAs(UnmanagedType.LPUTF8Str)] public string NodeAddress;
        [MarshalAs(UnmanagedType.LPUTF8Str)] public string ApiKey;
        [MarshalAs(UnmanagedType.LPUTF8Str)] public string ServerId;
        [MarshalAs(UnmanagedType.LPUTF8Str)] public string ProjectId;
        [MarshalAs(UnmanagedType.LPUTF8Str)] public string Address;
        public uint GamePort;
        public uint Capacity;
        public uint TimeoutMs;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CnPlayer
    {
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] PlayerId;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] SessionId;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] ProjectId;
        public long ExpiresUnixMs;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CnServerSession
    {
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] ServerId;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] SessionId;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] TenantId;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] ProjectId;
        [MarshalAs(UnmanagedType.ByValArray, SizeConst = 129)] public byte[] Node;
        public uint HealthIntervalMs;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct CnEvent
    {
        public CnEventKind Kind;
        public IntPtr PlayerId; // UTF-8, valid during the callback only
        public IntPtr Reason;
        public IntPtr BanId;
        public IntPtr AllocationId; // CnEventKind.Allocated (ABI revision 2)
    }

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void CnEventFn(ref CnEvent ev, IntPtr userData);

    [UnmanagedFunctionPointer(CallingConvention.Cdecl)]
    public delegate void CnMessageFn(IntPtr topic, IntPtr eventId, IntPtr payload, UIntPtr len, IntPtr userData);

    public static class Native
    {
        private const string Lib = "cassnet";

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_init(ref CnConfig config, out ulong handle);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_get_server_session(ulong h, out CnServerSession session);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_ready(ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_set_state(ulong h, CnServerState state);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_authenticate(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string playerToken, out CnPlayer player);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_is_banned(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string playerId, out int banned);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_player_disconnect(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string playerId);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_send_metric(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string name, double value,
            [MarshalAs(UnmanagedType.LPUTF8Str)] string labels);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_publish(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, byte[] payload, UIntPtr len);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_subscribe(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string topic, CnMessageFn callback, IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_set_event_callback(ulong h, CnEventFn callback, IntPtr userData);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_set_label(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string key,
            [MarshalAs(UnmanagedType.LPUTF8Str)] string value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_reserve(ulong h, uint seconds);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_allocate(ulong h);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_get_annotation(ulong h, [MarshalAs(UnmanagedType.LPUTF8Str)] string key, out IntPtr value);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_last_error(ulong h, out IntPtr message);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_free(IntPtr p);

        /// <summary>The port the node reserved for a fleet port name (CN_PORT_NAME; ABI revision 3).</summary>
        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_port([MarshalAs(UnmanagedType.LPUTF8Str)] string name, out uint port);

        [DllImport(Lib, CallingConvention = CallingConvention.Cdecl)]
        public static extern CnStatus cn_shutdown(ulong h);

        /// <summary>Annotation key of the allocation the server holds, or null.</summary>
        public static string Annotation(ulong h, string key)
        {
            if (cn_get_annotation(h, key, out IntPtr p) != CnStatus.Ok) return null;
            try { return Marshal.PtrToStringUTF8(p); }
            finally { cn_free(p); }
        }

        /// <summary>The handle's last error message (0: the last cn_init failure).</summary>
        public static string LastError(ulong h)
        {
            if (cn_last_error(h, out IntPtr p) != CnStatus.Ok) return "";
            try { return Marshal.PtrToStringUTF8(p) ?? ""; }
            finally { cn_free(p); }
        }
    }
}
